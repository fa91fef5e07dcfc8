-- The deadline the ingest stored with each submission is the one of the policy
-- (seed reporting_deadlines through int_quarters): lateness is judged against it.

with submissions as (

    select * from {{ ref('stg_landing__submissions') }}

),

quarters as (

    select * from {{ ref('int_quarters') }}

),

final as (

    select
        submissions.submission_id,
        submissions.year,
        submissions.quarter,
        submissions.deadline,
        quarters.deadline as policy_deadline
    from submissions
    inner join quarters
        on submissions.year = quarters.year
        and submissions.quarter = quarters.quarter
    where submissions.deadline is distinct from quarters.deadline

)

select * from final
