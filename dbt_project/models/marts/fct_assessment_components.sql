{#- Published dataset assessment_components: one row per town, year and
    assessment indicator of the towns assessed that year (the consequences of
    earlier years applied: int_assessment_consequences.in_population).
    points = weight × clamp((actual − floor) / (target − floor), 0, 1); 0 when due
    data is missing; null when the indicator is not scored (first year of
    reporting), and then scored = false. scaled_points = points × 100 / the
    scorable weight of the town-year, so that the score is the sum of
    scaled_points. -#}

with components as (

    select * from {{ ref('int_assessment_components') }}

),

scores as (

    select * from {{ ref('int_assessment_scores') }}

),

consequences as (

    select * from {{ ref('int_assessment_consequences') }}

),

assessment_measures as (

    select * from {{ ref('assessment_measures') }}

),

assessment_reasons as (

    select * from {{ ref('assessment_reasons') }}

),

final as (

    select
        components.year::integer as year,
        components.town_code::text as town_code,
        components.county_code::text as county_code,
        components.programme::text as programme,
        components.tier::text as tier,
        components.indicator::text as indicator,
        assessment_measures.name_zh::text as name_zh,
        components.unit::text as unit,
        components.actual::numeric(20, 6) as actual,
        components.target::numeric(20, 6) as target,
        components.floor::numeric(20, 6) as floor,
        components.weight::numeric(20, 6) as weight,
        components.points::numeric(20, 6) as points,
        (components.status <> 'not_scored') as scored,
        components.status::text as status,
        assessment_reasons.name_zh::text as note,
        assessment_reasons.name_en::text as note_en,
        round(components.points * 100 / nullif(scores.scorable_weight, 0), 6)::numeric(20, 6) as scaled_points
    from components
    inner join consequences
        on components.year = consequences.year
        and components.town_code = consequences.town_code
    inner join scores
        on components.year = scores.year
        and components.town_code = scores.town_code
    left join assessment_measures
        on components.indicator = assessment_measures.indicator
    left join assessment_reasons
        on components.reason = assessment_reasons.reason
    where consequences.in_population

)

select * from final
