{#- Published dataset programme_kpis: the city-level targets of the work plan
    (programme-rules section 2; seed city_targets), one row per KPI and plan year
    (valid_from_year..valid_to_year) that has Q4 data. Measures (seed column measure):
      fai_total          sum of the Q4 YTD FAI of the members at the end of Q4 in the
                         KPI's tiers (and list); incomplete while a county with such
                         members has no current Q4 report (note names the counties);
      towns_at_year_end  members on 31 December in the KPI's tiers;
      list_entries       towns entering the KPI's list (memberships.csv) by the end of
                         the year;
      decisions          recorded decisions with the KPI's action (int_decisions): for
                         an assessment decision, those answering that year's assessment;
                         for an award, those decided by the end of the year.
    status: not_yet_decided while the source holds nothing (no entry to the list, no
    such award, no provincial decision on that year's assessment); incomplete (see
    above); from the target year on met / not_met (a 左右 target is met at
    policy_parameters kpi_about_tolerance of the number); before it on_track when the
    value has covered at least the elapsed share of the way from its value at the end
    of the baseline year (policy_parameters plan_baseline_year) to the target (elapsed
    share = years since the baseline / years from the baseline to the target year),
    else behind. met: true / false from the target year on, null before or undecided. -#}

{{ config(pre_hook="{{ hash_joins_only() }}") }}

with city_targets as (

    select * from {{ ref('city_targets') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

),

decisions as (

    select * from {{ ref('int_decisions') }}

),

report_values as (

    select * from {{ ref('int_report_values_current') }}

),

programme_forms as (

    select * from {{ ref('programme_forms') }}

),

counties as (

    select * from {{ ref('stg_seeds__counties') }}

),

policy_parameters as (

    select * from {{ ref('policy_parameters') }}

),

q4_reports as (

    select distinct county_code, year, form
    from submissions_current
    where quarter = 4

),

years as (

    select distinct year
    from q4_reports

),

targets as (

    select
        city_targets.*,
        string_to_array(city_targets.tiers, '|') as tier_list,
        baseline.value::integer as baseline_year,
        tolerance.value as about_tolerance
    from city_targets
    left join policy_parameters as baseline
        on baseline.parameter = 'plan_baseline_year'
        and {{ in_force('baseline', 'city_targets.target_year') }}
    left join policy_parameters as tolerance
        on tolerance.parameter = 'kpi_about_tolerance'
        and {{ in_force('tolerance', 'city_targets.target_year') }}

),

-- every KPI in every year with Q4 data (the baseline year included, for on_track)
kpi_years as (

    select
        years.year,
        targets.*
    from targets
    cross join years

),

q4_members as (

    select
        kpi_years.kpi,
        kpi_years.year,
        memberships_quarterly.town_code,
        memberships_quarterly.county_code,
        programme_forms.form
    from kpi_years
    inner join memberships_quarterly
        on kpi_years.year = memberships_quarterly.year
        and memberships_quarterly.quarter = 4
        and kpi_years.programme = memberships_quarterly.programme
        and memberships_quarterly.tier = any(kpi_years.tier_list)
        and (kpi_years.list_name is null or kpi_years.list_name = memberships_quarterly.list_name)
    inner join programme_forms
        on memberships_quarterly.programme = programme_forms.programme
    where kpi_years.measure in ('fai_total', 'towns_at_year_end')

),

member_measures as (

    select
        q4_members.kpi,
        q4_members.year,
        case max(kpi_years.measure)
            when 'fai_total' then sum(report_values.value)
            else count(distinct q4_members.town_code)
        end as value,
        count(distinct q4_members.town_code) as n_towns,
        true as has_source,
        string_agg(distinct counties.name_zh, '、') filter (
            where kpi_years.measure = 'fai_total' and q4_reports.county_code is null
        ) as missing_counties
    from q4_members
    inner join kpi_years
        on q4_members.kpi = kpi_years.kpi
        and q4_members.year = kpi_years.year
    left join report_values
        on q4_members.town_code = report_values.town_code
        and q4_members.year = report_values.year
        and report_values.quarter = 4
        and q4_members.form = report_values.form
        and report_values.indicator = 'fai'
    left join q4_reports
        on q4_members.county_code = q4_reports.county_code
        and q4_members.year = q4_reports.year
        and q4_members.form = q4_reports.form
    left join counties
        on q4_members.county_code = counties.county_code
    group by q4_members.kpi, q4_members.year

),

list_entries as (

    select
        kpi_years.kpi,
        kpi_years.year,
        count(distinct memberships.town_code) as value,
        count(distinct memberships.town_code) as n_towns,
        count(distinct memberships.town_code) > 0 as has_source,
        null::text as missing_counties
    from kpi_years
    left join memberships
        on kpi_years.programme = memberships.programme
        and kpi_years.list_name = memberships.list_name
        and memberships.valid_from <= make_date(kpi_years.year, 12, 31)
    where kpi_years.measure = 'list_entries'
    group by kpi_years.kpi, kpi_years.year

),

decision_counts as (

    select
        kpi_years.kpi,
        kpi_years.year,
        count(distinct matching.decision_id) as value,
        count(distinct matching.town_code) as n_towns,
        -- an award counts once made; an assessment outcome (assessed_by) once that body
        -- has recorded its decisions on the year's assessment
        count(distinct matching.decision_id) > 0 or count(distinct assessed.decision_id) > 0 as has_source,
        null::text as missing_counties
    from kpi_years
    left join decisions as matching
        on kpi_years.action = matching.action
        and kpi_years.programme = matching.programme
        and coalesce(matching.assessment_year, extract(year from matching.decided_on)::integer) = kpi_years.year
            or (
                kpi_years.action = matching.action
                and kpi_years.programme = matching.programme
                and matching.assessment_year is null
                and extract(year from matching.decided_on)::integer < kpi_years.year
            )
    left join decisions as assessed
        on kpi_years.programme = assessed.programme
        and assessed.decided_by = kpi_years.assessed_by
        and assessed.assessment_year = kpi_years.year
    where kpi_years.measure = 'decisions'
    group by kpi_years.kpi, kpi_years.year

),

measured as (

    select * from member_measures
    union all
    select * from list_entries
    union all
    select * from decision_counts

),

judged as (

    select
        kpi_years.*,
        coalesce(measured.value, 0) as value,
        coalesce(measured.n_towns, 0) as n_towns,
        coalesce(measured.has_source, false) as has_source,
        measured.missing_counties,
        coalesce(baseline.value, 0) as baseline_value,
        case kpi_years.comparison
            when 'at_least' then coalesce(measured.value, 0) >= kpi_years.target
                * case when kpi_years.about then kpi_years.about_tolerance else 1 end
            when 'at_most' then coalesce(measured.value, 0) <= kpi_years.target
        end as reached,
        case kpi_years.comparison
            when 'at_least' then coalesce(measured.value, 0) - coalesce(baseline.value, 0)
                >= (kpi_years.year - kpi_years.baseline_year)::numeric
                    / nullif(kpi_years.target_year - kpi_years.baseline_year, 0)
                    * (kpi_years.target - coalesce(baseline.value, 0))
            when 'at_most' then coalesce(measured.value, 0) <= kpi_years.target
        end as on_path
    from kpi_years
    left join measured
        on kpi_years.kpi = measured.kpi
        and kpi_years.year = measured.year
    left join measured as baseline
        on kpi_years.kpi = baseline.kpi
        and kpi_years.baseline_year = baseline.year
    where {{ in_force('kpi_years', 'kpi_years.year') }}

),

statused as (

    select
        judged.*,
        case
            when judged.measure in ('list_entries', 'decisions') and not judged.has_source then 'not_yet_decided'
            when judged.missing_counties is not null then 'incomplete'
            when judged.year >= judged.target_year and judged.reached then 'met'
            when judged.year >= judged.target_year then 'not_met'
            when judged.on_path then 'on_track'
            else 'behind'
        end as status
    from judged

),

final as (

    select
        statused.year::integer as year,
        statused.kpi::text as kpi,
        statused.value::numeric(20, 6) as value,
        statused.target::numeric(20, 6) as target,
        statused.unit::text as unit,
        (case when statused.status in ('met', 'not_met') then statused.status = 'met' end)::boolean as met,
        statused.status::text as status,
        concat_ws('；',
            statused.note_zh,
            case when statused.about
                then '“左右”目标，达到目标值的' || trim_scale(round(statused.about_tolerance * 100, 1))::text || '%即为完成' end,
            case when statused.status = 'incomplete' then '数据不全，待报：' || statused.missing_counties end,
            case when statused.status in ('on_track', 'behind')
                then trim_scale(statused.baseline_year)::text || '年末基数' || trim_scale(statused.baseline_value)::text
                    || '，目标年份' || statused.target_year end
        )::text as note,
        statused.name_zh::text as name_zh,
        statused.comparison::text as comparison,
        (case when statused.about then statused.about_tolerance else 1 end)::numeric(20, 6) as tolerance,
        statused.target_year::integer as target_year,
        statused.n_towns::integer as n_towns,
        statused.measure::text as measure,
        statused.source::text as source
    from statused

)

select * from final
