-- The consequences of an assessment change the membership from the next year: a
-- town eliminated or removed by the assessment of year Y has its membership
-- period (the one at the end of Q4 of Y) end on 31 December of Y or earlier in
-- towns, with status eliminated or removed, and no later assessment of that
-- period.

with annual_assessment as (

    select * from {{ ref('fct_town_annual_assessment') }}

),

consequences as (

    select * from {{ ref('int_assessment_consequences') }}

),

towns as (

    select * from {{ ref('dim_towns') }}

),

ended as (

    select
        consequences.year,
        consequences.town_code,
        consequences.membership_valid_from,
        case when consequences.eliminated_next_year then 'eliminated' else 'removed' end as expected_status
    from consequences
    where consequences.eliminated_next_year or consequences.removed_next_year

),

final as (

    select
        ended.*,
        towns.valid_to,
        towns.status,
        later.year as assessed_again_in
    from ended
    left join towns
        on ended.town_code = towns.town_code
        and ended.membership_valid_from = towns.valid_from
    left join consequences as later_period
        on ended.town_code = later_period.town_code
        and ended.membership_valid_from = later_period.membership_valid_from
        and later_period.year > ended.year
    left join annual_assessment as later
        on later_period.year = later.year
        and later_period.town_code = later.town_code
    where towns.town_code is null
        or towns.valid_to is null
        or towns.valid_to > make_date(ended.year, 12, 31)
        or (towns.valid_to < {{ as_of_date() }} and towns.status <> ended.expected_status)
        or later.town_code is not null

)

select * from final
