-- Every year, in every tier with a yellow-card rule, at least the bottom_n lowest
-- scores got a card (more with ties), every score below score_below got one,
-- and nobody above the bottom_n-th lowest score and at or above score_below did.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

yellow_card_rules as (

    select * from {{ ref('yellow_card_rules') }}

),

ranked as (

    select
        annual_assessment.*,
        yellow_card_rules.bottom_n,
        yellow_card_rules.score_below,
        rank() over (
            partition by annual_assessment.year, annual_assessment.programme, annual_assessment.tier
            order by annual_assessment.score
        ) as rank_from_bottom
    from annual_assessment
    inner join yellow_card_rules
        on annual_assessment.programme = yellow_card_rules.programme
        and annual_assessment.tier = yellow_card_rules.tier
    where annual_assessment.score is not null

),

final as (

    select * from ranked
    where yellow_card <> (rank_from_bottom <= bottom_n or score < score_below)

)

select * from final
