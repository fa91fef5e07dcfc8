-- Only a comparable score grounds a proposal (remove follows the decided cards);
-- a pending result has no score, grade, rank or proposal; only comparable scores
-- are ranked; a yellow card is proposed only in a group of at least min_group
-- comparable scores, below its median.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

yellow_card_rules as (

    select * from {{ ref('yellow_card_rules') }}

),

codes as (

    select
        annual_assessment.*,
        string_to_array(nullif(annual_assessment.proposals, ''), ',') as proposal_codes
    from annual_assessment

),

card_groups as (

    select
        codes.year,
        codes.programme,
        codes.tier,
        codes.list_name,
        count(*) filter (where codes.comparable) as n_comparable,
        percentile_cont(0.5) within group (order by codes.score) filter (where codes.comparable) as median_score
    from codes
    group by 1, 2, 3, 4

),

final as (

    select codes.year, codes.town_code, codes.proposals, 'proposal without a comparable score' as problem
    from codes
    where not codes.comparable
        and cardinality(array_remove(coalesce(codes.proposal_codes, '{}'), 'remove')) > 0

    union all

    select codes.year, codes.town_code, codes.proposals, 'pending with a result'
    from codes
    where codes.pending
        and (codes.score is not null or codes.grade is not null or codes.rank_in_tier is not null
            or codes.proposals <> '')

    union all

    select codes.year, codes.town_code, codes.proposals, 'yellow card outside the rule'
    from codes
    inner join card_groups
        on codes.year = card_groups.year
        and codes.programme = card_groups.programme
        and codes.tier = card_groups.tier
        and codes.list_name = card_groups.list_name
    inner join yellow_card_rules
        on codes.programme = yellow_card_rules.programme
        and codes.tier = yellow_card_rules.tier
        and {{ in_force('yellow_card_rules', 'codes.year') }}
    where 'yellow_card' = any(codes.proposal_codes)
        and (card_groups.n_comparable < yellow_card_rules.min_group or codes.score >= card_groups.median_score)

)

select * from final
