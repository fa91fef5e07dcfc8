{#- Points of every assessment indicator of every assessed town-year: the scoring
    configuration of the town's programme and tier valid in that year (seed
    scoring_indicators) applied to its actual (int_town_year_measures):
        points = weight × clamp((actual − floor) / (target − floor), 0, 1)
    computed from the unrounded actual (points_unrounded; published to 6 decimals).
    target and floor are absolute, or added to a basis of the county (target_basis,
    e.g. county_gdp_growth: the county's reported GDP growth at Q4,
    int_county_year_values); a missing basis is due data missing (pending).
    status ok: scored; missing: pending, no points; not_scored: no points and the
    weight is left out of the total, which is rescaled. -#}

{{ config(pre_hook="{{ hash_joins_only() }}") }}

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
        and {{ in_force('scoring_indicators', 'measures.year') }}
    left join county_year_values
        on measures.county_code = county_year_values.county_code
        and measures.year = county_year_values.year
        and scoring_indicators.target_basis = county_year_values.indicator

),

resolved as (

    select
        configured.*,
        configured.target_offset + coalesce(configured.basis_value, 0) as target,
        configured.floor_offset + coalesce(configured.basis_value, 0) as floor,
        configured.target_basis is not null and configured.basis_value is null as basis_missing
    from configured

),

scored as (

    select
        resolved.*,
        case
            when resolved.basis_missing and resolved.status <> 'missing' then 'missing'
            else resolved.status
        end as scoring_status,
        case
            when resolved.basis_missing and resolved.status <> 'missing' then 'no_' || resolved.target_basis
            else resolved.reason
        end as scoring_reason
    from resolved

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
        actual_unrounded,
        case when not basis_missing then round(target, 6) end as target,
        case when not basis_missing then round(floor, 6) end as floor,
        weight,
        case
            when scoring_status = 'ok'
                then weight * least(greatest((actual_unrounded - floor) / nullif(target - floor, 0), 0), 1)
        end as points_unrounded,
        case
            when scoring_status = 'ok'
                then round(weight * least(greatest((actual_unrounded - floor) / nullif(target - floor, 0), 0), 1), 6)
        end as points,
        scoring_status as status,
        scoring_reason as reason,
        value_q4,
        value_prev_year,
        annual_task
    from scored

)

select * from final
