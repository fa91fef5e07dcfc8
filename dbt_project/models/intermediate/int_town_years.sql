{#- Every town-year the platform monitors and, where a policy covers the year,
    assesses (programme-rules sections 1 and 4): the members on 31 December (by the
    one membership definition, int_memberships_quarterly) of a year the platform holds
    reports of, once it has Q4 data (a current Q4 submission of any county) or its Q4
    deadline has passed as of the build (then a county's missing Q4 report makes its
    towns pending), with the tier and list of that day.
      assessed           seed scoring_indicators has rows for the programme and tier
                         valid in that year (2015, the baseline, is monitored only);
      member_quarters    quarters of the year at whose end the town was a member of
                         the programme (the notes say so for a joiner);
      annual_task        the whole-year task of the year (int_annual_tasks), also for
                         a town that joined during the year;
      has_q4_report      the county's current Q4 submission carries the programme's form;
      has_county_q4_report  the county's current Q4 LZ-0 exists (county GDP growth);
      awaited_county_code  the town's county while its current Q4 report (the form or
                         LZ-0) is missing: a pending result waits for it. -#}

{{ config(pre_hook="{{ hash_joins_only() }}") }}

with memberships_quarterly as (

    select * from {{ ref('int_memberships_quarterly') }}

),

submissions_current as (

    select * from {{ ref('int_submissions_current') }}

),

quarters as (

    select * from {{ ref('int_quarters') }}

),

programme_forms as (

    select * from {{ ref('programme_forms') }}

),

annual_tasks as (

    select * from {{ ref('int_annual_tasks') }}

),

scoring_indicators as (

    select * from {{ ref('scoring_indicators') }}

),

q4_reports as (

    select distinct
        county_code,
        year,
        form
    from submissions_current
    where quarter = 4

),

monitored_years as (

    select quarters.year
    from quarters
    where quarters.quarter = 4
        and exists (select 1 from submissions_current where submissions_current.year = quarters.year)
        and (
            quarters.deadline < {{ as_of_date() }}
            or exists (select 1 from q4_reports where q4_reports.year = quarters.year)
        )

),

member_quarters as (

    select
        year,
        town_code,
        programme,
        count(*) as member_quarters
    from memberships_quarterly
    group by year, town_code, programme

),

assessed_tiers as (

    select distinct
        programme,
        tier,
        valid_from_year,
        valid_to_year
    from scoring_indicators

),

q4_members as (

    select memberships_quarterly.*
    from memberships_quarterly
    inner join monitored_years
        on memberships_quarterly.year = monitored_years.year
    where memberships_quarterly.quarter = 4

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
        extract(year from q4_members.valid_from)::integer as join_year,
        q4_members.plan_investment_3y,
        exists (
            select 1 from assessed_tiers
            where assessed_tiers.programme = q4_members.programme
                and assessed_tiers.tier = q4_members.tier
                and {{ in_force('assessed_tiers', 'q4_members.year') }}
        ) as assessed,
        member_quarters.member_quarters::integer as member_quarters,
        annual_tasks.annual_task,
        annual_tasks.annual_task_source,
        annual_tasks.default_annual_task_divisor,
        (form_report.county_code is not null) as has_q4_report,
        (county_report.county_code is not null) as has_county_q4_report,
        case
            when form_report.county_code is null or county_report.county_code is null then q4_members.county_code
        end as awaited_county_code
    from q4_members
    inner join programme_forms
        on q4_members.programme = programme_forms.programme
    inner join member_quarters
        on q4_members.year = member_quarters.year
        and q4_members.town_code = member_quarters.town_code
        and q4_members.programme = member_quarters.programme
    left join annual_tasks
        on q4_members.town_code = annual_tasks.town_code
        and q4_members.year = annual_tasks.year
    left join q4_reports as form_report
        on q4_members.county_code = form_report.county_code
        and q4_members.year = form_report.year
        and programme_forms.form = form_report.form
    left join q4_reports as county_report
        on q4_members.county_code = county_report.county_code
        and q4_members.year = county_report.year
        and county_report.form = 'LZ-0'

)

select * from final
