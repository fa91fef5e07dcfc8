{#- Points of every assessment indicator of every town-year (before the
    consequences of earlier years remove anyone): the scoring configuration of the
    town's programme and tier (seed scoring_indicators) applied to its actual
    (int_town_year_measures):
        points = weight × clamp((actual − floor) / (target − floor), 0, 1)
    (6 decimals). target and floor are absolute, or added to a basis of the county
    (target_basis, e.g. county_gdp_growth: the county's reported GDP growth at Q4,
    int_county_year_values); a basis that is missing makes the indicator missing.
    status ok: scored; missing: scores 0 (due data missing); not_scored: no points
    (null) and its weight is left out of the total, which is rescaled. -#}

with measures as (

    select * from {{ ref('int_town_year_measures') }}

),

scoring_indicators as (

    select * from {{ ref('scoring_indicators') }}

),

county_year_values as (

    select * from {{ ref('int_county_year_values') }}

),

configured as (

    select
        measures.*,
        scoring_indicators.weight,
        scoring_indicators.target as target_offset,
        scoring_indicators.floor as floor_offset,
        scoring_indicators.target_basis,
        county_year_values.value as basis_value
    from measures
    inner join scoring_indicators
        on measures.programme = scoring_indicators.programme
        and measures.tier = scoring_indicators.tier
        and measures.indicator = scoring_indicators.indicator
    left join county_year_values
        on measures.county_code = county_year_values.county_code
        and measures.year = county_year_values.year
        and scoring_indicators.target_basis = county_year_values.indicator

),

resolved as (

    select
        configured.*,
        case
            when configured.target_basis is null then configured.target_offset
            else configured.target_offset + configured.basis_value
        end as target,
        case
            when configured.target_basis is null then configured.floor_offset
            else configured.floor_offset + configured.basis_value
        end as floor,
        case
            when configured.status = 'ok' and configured.target_basis is not null and configured.basis_value is null
                then 'missing'
            else configured.status
        end as scoring_status,
        case
            when configured.status = 'ok' and configured.target_basis is not null and configured.basis_value is null
                then 'no_' || configured.target_basis
            else configured.reason
        end as scoring_reason
    from configured

),

final as (

    select
        year,
        town_code,
        county_code,
        programme,
        tier,
        list_name,
        membership_valid_from,
        indicator,
        unit,
        method,
        actual,
        round(target, 6) as target,
        round(floor, 6) as floor,
        weight,
        case scoring_status
            when 'ok' then round(weight * least(greatest((actual - floor) / nullif(target - floor, 0), 0), 1), 6)
            when 'missing' then 0
        end as points,
        scoring_status as status,
        scoring_reason as reason,
        value_q4,
        value_prev_year,
        annual_task_prorated
    from resolved

)

select * from final
