{#- Published dataset pilot_targets: one row per pilot town monitored in a year
    (a member on 31 December of a year with Q4 data; 2015, the baseline, too),
    with the indicators of the work plan's annual targets (三(一)1 provincial,
    三(一)2 municipal) and one met_* boolean per target (seed
    pilot_annual_targets, rows valid in the year; none in a year no policy covers):
    met when actual ≥ target, the target of municipal
    pilot GDP growth being the county's reported growth + 2 pp. met is empty when
    the target does not apply to the tier or the actual is unknown (first year of
    reporting: no prior-year value; missing data). -#}

with measures as (

    select * from {{ ref('int_town_year_measures') }}

),

pilot_annual_targets as (

    select * from {{ ref('pilot_annual_targets') }}

),

county_year_values as (

    select * from {{ ref('int_county_year_values') }}

),

pilot_measures as (

    select
        measures.*,
        pilot_annual_targets.target as target_offset,
        pilot_annual_targets.target_basis,
        county_year_values.value as basis_value
    from measures
    left join pilot_annual_targets
        on measures.tier = pilot_annual_targets.tier
        and measures.indicator = pilot_annual_targets.indicator
        and {{ in_force('pilot_annual_targets', 'measures.year') }}
    left join county_year_values
        on measures.county_code = county_year_values.county_code
        and measures.year = county_year_values.year
        and pilot_annual_targets.target_basis = county_year_values.indicator
    where measures.programme = 'pilot'

),

evaluated as (

    select
        pilot_measures.*,
        case
            when pilot_measures.target_basis is null then pilot_measures.target_offset
            else pilot_measures.target_offset + pilot_measures.basis_value
        end as target,
        pilot_measures.actual >= case
            when pilot_measures.target_basis is null then pilot_measures.target_offset
            else pilot_measures.target_offset + pilot_measures.basis_value
        end as met
    from pilot_measures

),

county_growth as (

    select * from county_year_values
    where indicator = 'county_gdp_growth'

),

pivoted as (

    select
        evaluated.year,
        evaluated.town_code,
        evaluated.county_code,
        evaluated.tier,
        max(evaluated.actual) filter (where evaluated.indicator = 'gdp_growth') as gdp_growth_pct,
        max(evaluated.target) filter (where evaluated.indicator = 'gdp_growth') as target_gdp_growth_pct,
        max(evaluated.actual) filter (where evaluated.indicator = 'fiscal_revenue_growth') as fiscal_growth_pct,
        max(evaluated.target) filter (where evaluated.indicator = 'fiscal_revenue_growth') as target_fiscal_growth_pct,
        max(evaluated.actual) filter (where evaluated.indicator = 'fai_growth') as fai_growth_pct,
        max(evaluated.target) filter (where evaluated.indicator = 'fai_growth') as target_fai_growth_pct,
        max(evaluated.actual) filter (where evaluated.indicator = 'tertiary_share_change') as tertiary_share_change_pp,
        max(evaluated.target) filter (where evaluated.indicator = 'tertiary_share_change') as target_tertiary_share_change_pp,
        max(evaluated.actual) filter (where evaluated.indicator = 'employment_share_change') as employment_share_change_pp,
        max(evaluated.target) filter (where evaluated.indicator = 'employment_share_change') as target_employment_share_change_pp,
        max(evaluated.actual) filter (where evaluated.indicator = 'builtup_concentration_change') as builtup_concentration_change_pp,
        max(evaluated.target) filter (where evaluated.indicator = 'builtup_concentration_change') as target_builtup_concentration_change_pp,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'gdp_growth') as met_gdp_growth,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'fiscal_revenue_growth') as met_fiscal_growth,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'fai_growth') as met_fai_growth,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'tertiary_share_change') as met_tertiary_share_change,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'employment_share_change') as met_employment_share_change,
        bool_or(evaluated.met) filter (where evaluated.indicator = 'builtup_concentration_change')
            as met_builtup_concentration_change,
        count(*) filter (where evaluated.target is not null) as n_targets,
        count(*) filter (where evaluated.met) as n_targets_met,
        count(*) filter (where evaluated.target is not null and evaluated.met is null) as n_targets_unknown
    from evaluated
    group by evaluated.year, evaluated.town_code, evaluated.county_code, evaluated.tier

),

final as (

    select
        pivoted.year::integer as year,
        pivoted.town_code::text as town_code,
        pivoted.tier::text as tier,
        pivoted.gdp_growth_pct::numeric(20, 6) as gdp_growth_pct,
        pivoted.target_gdp_growth_pct::numeric(20, 6) as target_gdp_growth_pct,
        pivoted.fiscal_growth_pct::numeric(20, 6) as fiscal_growth_pct,
        pivoted.fai_growth_pct::numeric(20, 6) as fai_growth_pct,
        pivoted.tertiary_share_change_pp::numeric(20, 6) as tertiary_share_change_pp,
        pivoted.employment_share_change_pp::numeric(20, 6) as employment_share_change_pp,
        pivoted.builtup_concentration_change_pp::numeric(20, 6) as builtup_concentration_change_pp,
        pivoted.met_gdp_growth::boolean as met_gdp_growth,
        pivoted.met_fiscal_growth::boolean as met_fiscal_growth,
        pivoted.met_fai_growth::boolean as met_fai_growth,
        pivoted.met_tertiary_share_change::boolean as met_tertiary_share_change,
        pivoted.met_employment_share_change::boolean as met_employment_share_change,
        pivoted.met_builtup_concentration_change::boolean as met_builtup_concentration_change,
        pivoted.county_code::text as county_code,
        county_growth.value::numeric(20, 6) as county_gdp_growth_pct,
        pivoted.target_fiscal_growth_pct::numeric(20, 6) as target_fiscal_growth_pct,
        pivoted.target_fai_growth_pct::numeric(20, 6) as target_fai_growth_pct,
        pivoted.target_tertiary_share_change_pp::numeric(20, 6) as target_tertiary_share_change_pp,
        pivoted.target_employment_share_change_pp::numeric(20, 6) as target_employment_share_change_pp,
        pivoted.target_builtup_concentration_change_pp::numeric(20, 6) as target_builtup_concentration_change_pp,
        pivoted.n_targets::integer as n_targets,
        pivoted.n_targets_met::integer as n_targets_met,
        pivoted.n_targets_unknown::integer as n_targets_unknown
    from pivoted
    left join county_growth
        on pivoted.county_code = county_growth.county_code
        and pivoted.year = county_growth.year

)

select * from final
