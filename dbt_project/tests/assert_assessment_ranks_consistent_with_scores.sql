-- Ranks agree with scores within (year, programme, tier): rank = 1 + the number of
-- towns with a higher score (equal scores share a rank); no score, no rank.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

expected as (

    select
        this_town.year,
        this_town.town_code,
        this_town.score,
        this_town.rank_in_tier,
        1 + count(better.town_code) as expected_rank
    from annual_assessment as this_town
    left join annual_assessment as better
        on this_town.year = better.year
        and this_town.programme = better.programme
        and this_town.tier = better.tier
        and better.score > this_town.score
    where this_town.score is not null
    group by this_town.year, this_town.town_code, this_town.score, this_town.rank_in_tier

),

final as (

    select year, town_code, score, rank_in_tier, expected_rank
    from expected
    where rank_in_tier is distinct from expected_rank

    union all

    select year, town_code, score, rank_in_tier, null
    from annual_assessment
    where score is null and rank_in_tier is not null

)

select * from final
