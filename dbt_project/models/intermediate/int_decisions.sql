{#- The decisions register as known at the build's as-of date (decided_on on or
    before it), with what each action means (seed decision_actions): whether it
    ends a membership (on effective_from - 1 day) and the status it leaves. -#}

with decisions as (

    select * from {{ ref('stg_seeds__decisions') }}

),

decision_actions as (

    select * from {{ ref('decision_actions') }}

),

final as (

    select
        decisions.*,
        decision_actions.name_zh as action_zh,
        decision_actions.name_en as action_en,
        decision_actions.ends_membership,
        decision_actions.ended_status,
        (decisions.effective_from - 1) as ends_membership_on
    from decisions
    inner join decision_actions
        on decisions.action = decision_actions.action
    where decisions.decided_on <= {{ as_of_date() }}

)

select * from final
