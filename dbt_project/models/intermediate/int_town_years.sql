{#- Who is assessed in which year (programme-rules section 4), before the
    consequences of earlier years are applied (int_assessment_consequences):
    every town that is a member of a list at the end of Q4 of a year that has Q4
    data (a current Q4 submission of any county), with its tier, list and
    membership period at Q4. A town whose county has not sent its Q4 report is
    included once the Q4 deadline has passed as of the build (its data is then
    due and missing); before that it is not assessed yet.
    member_quarters: the quarters of the year at whose end the town was a member of
    the programme; annual_task_prorated = the sum over those quarters of the annual
    task of the membership of that quarter / 4 (joined 1 July: 2 of 4 quarters,
    half the task); null when a member quarter has no task.
    has_prior_year_report: the town has values in a current submission of the
    previous year (otherwise this is its first year of reporting). -#}

with memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

report_values as (

    select * from {{ ref('int_report_values_current') }}

),

quarters as (

    select * from {{ ref('int_quarters') }}

),

programme_forms as (

    select * from {{ ref('programme_forms') }}

),

assessed_years as (

    select distinct year
    from submissions_current
    where quarter = 4

),

q4_members as (

    select memberships_quarterly.*
    from memberships_quarterly
    inner join assessed_years
        on memberships_quarterly.year = assessed_years.year
    where memberships_quarterly.quarter = 4

),

member_quarters as (

    select
        year,
        town_code,
        programme,
        count(*) as member_quarters,
        case
            when count(annual_task) = count(*) then round(sum(annual_task) / 4, 6)
        end as annual_task_prorated
    from memberships_quarterly
    group by year, town_code, programme

),

q4_reports as (

    select distinct
        county_code,
        year,
        form
    from submissions_current
    where quarter = 4

),

reporting_years as (

    select distinct
        town_code,
        year
    from report_values
    where town_code is not null

),

q4_deadlines as (

    select
        year,
        deadline
    from quarters
    where quarter = 4

),

final as (

    select
        q4_members.year,
        q4_members.town_code,
        q4_members.county_code,
        q4_members.programme,
        programme_forms.form,
        q4_members.tier,
        q4_members.list_name,
        q4_members.valid_from as membership_valid_from,
        q4_members.annual_task,
        member_quarters.member_quarters::integer as member_quarters,
        member_quarters.annual_task_prorated,
        (q4_reports.county_code is not null) as has_q4_report,
        (prior_year.town_code is not null) as has_prior_year_report
    from q4_members
    inner join programme_forms
        on q4_members.programme = programme_forms.programme
    inner join member_quarters
        on q4_members.year = member_quarters.year
        and q4_members.town_code = member_quarters.town_code
        and q4_members.programme = member_quarters.programme
    left join q4_reports
        on q4_members.county_code = q4_reports.county_code
        and q4_members.year = q4_reports.year
        and programme_forms.form = q4_reports.form
    left join reporting_years as prior_year
        on q4_members.town_code = prior_year.town_code
        and q4_members.year - 1 = prior_year.year
    left join q4_deadlines
        on q4_members.year = q4_deadlines.year
    where q4_reports.county_code is not null
        or q4_deadlines.deadline < {{ as_of_date() }}

)

select * from final
