-- Ranks agree with scores within (year, programme, tier) among comparable scores:
-- rank = 1 + the number of comparable towns with a higher score (equal scores share a
-- rank); a non-comparable or pending town has no rank.

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
        and better.comparable
    where this_town.comparable
    group by this_town.year, this_town.town_code, this_town.score, this_town.rank_in_tier

),

final as (

    select year, town_code, score, rank_in_tier, expected_rank
    from expected
    where rank_in_tier is distinct from expected_rank

    union all

    select year, town_code, score, rank_in_tier, null
    from annual_assessment
    where not comparable and rank_in_tier is not null

)

select * from final
