-- Ranks agree with scores within (year, programme, tier) among comparable scores:
-- rank = 1 + the number of comparable towns with a higher score (equal scores share a
-- rank); a non-comparable or pending town has no rank.
--
-- The towns with a higher score are counted by a window over the round in score order that
-- excludes the town's own score group (EXCLUDE GROUP): one sort per round, where a join of
-- each town with the towns above it grows with the square of the round (a nation-scale
-- round has thousands of towns).

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

expected as (

    select
        year,
        town_code,
        score,
        rank_in_tier,
        1 + count(*) over (
            partition by year, programme, tier
            order by score desc
            range between unbounded preceding and current row exclude group
        ) as expected_rank
    from annual_assessment
    where comparable

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
