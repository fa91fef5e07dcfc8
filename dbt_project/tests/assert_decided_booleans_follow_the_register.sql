-- The platform proposes, the city decides: yellow_card, removed_next_year and
-- eliminated_next_year are true exactly where the decisions register holds such a
-- decision on that town-year's assessment, never by computation.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

decisions as (

    select * from {{ ref('fct_decisions') }}

),

decided as (

    select
        assessment_year as year,
        town_code,
        bool_or(action = 'yellow_card') as yellow_card,
        bool_or(action = 'remove') as removed,
        bool_or(action = 'eliminate') as eliminated
    from decisions
    where assessment_year is not null
    group by 1, 2

),

final as (

    select annual_assessment.year, annual_assessment.town_code
    from annual_assessment
    left join decided
        on annual_assessment.year = decided.year
        and annual_assessment.town_code = decided.town_code
    where annual_assessment.yellow_card is distinct from coalesce(decided.yellow_card, false)
        or annual_assessment.removed_next_year is distinct from coalesce(decided.removed, false)
        or annual_assessment.eliminated_next_year is distinct from coalesce(decided.eliminated, false)

)

select * from final
