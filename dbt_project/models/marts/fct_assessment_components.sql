{#- Published dataset assessment_components: one row per town, year and scored
    indicator of every assessed town-year (int_assessment_components).
    points = weight × clamp((actual − floor) / (target − floor), 0, 1) (6 decimals);
    null when the indicator is not scored (status not_scored: no prior-year value,
    zero denominator, no task; its weight is left out and the total rescaled) or
    its data is missing (status missing: the result is pending). scaled_points =
    points × 100 / the scored weight, so that the score is their sum. -#}

with components as (

    select * from {{ ref('int_assessment_components') }}

),

scores as (

    select * from {{ ref('int_assessment_scores') }}

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
        (components.status = 'ok') as scored,
        components.status::text as status,
        assessment_reasons.name_zh::text as note,
        assessment_reasons.name_en::text as note_en,
        round(components.points_unrounded * 100 / nullif(scores.scorable_weight, 0), 6)::numeric(20, 6) as scaled_points,
        components.reason::text as reason,
        components.value_q4::numeric(20, 6) as value_q4,
        components.value_prev_year::numeric(20, 6) as value_prev_year
    from components
    inner join scores
        on components.year = scores.year
        and components.town_code = scores.town_code
    left join assessment_measures
        on components.indicator = assessment_measures.indicator
    left join assessment_reasons
        on components.reason = assessment_reasons.reason

)

select * from final
