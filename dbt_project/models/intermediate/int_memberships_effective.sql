{#- Membership periods as they stand after the recorded decisions (programme-rules
    sections 1 and 5): the registry's periods (seed memberships), each ended on
    effective_from − 1 day by the first decision that ends it (int_decisions:
    eliminate, remove, downgrade on the same town, programme and list, effective
    after the period began), unless the registry ends it earlier. Agrees with the
    one membership definition (macro members_on) on every day: tested.
    ended_by: decision / registry / null (open). -#}

with memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

),

decisions as (

    select * from {{ ref('int_decisions') }}

),

ending_decisions as (

    select distinct on (memberships.town_code, memberships.valid_from)
        memberships.town_code,
        memberships.valid_from,
        decisions.decision_id,
        decisions.action,
        decisions.ended_status,
        decisions.ends_membership_on,
        decisions.document_no,
        decisions.decided_on
    from memberships
    inner join decisions
        on memberships.town_code = decisions.town_code
        and memberships.programme = decisions.programme
        and memberships.list_name = decisions.list_name
        and decisions.ends_membership
        and decisions.effective_from > memberships.valid_from
    order by memberships.town_code, memberships.valid_from, decisions.effective_from, decisions.decision_id

),

final as (

    select
        memberships.town_code,
        memberships.programme,
        memberships.tier,
        memberships.list_name,
        memberships.valid_from,
        case
            when ending_decisions.ends_membership_on < coalesce(memberships.valid_to, 'infinity'::date)
                then ending_decisions.ends_membership_on
            else memberships.valid_to
        end as valid_to,
        memberships.valid_to as registry_valid_to,
        memberships.plan_investment_3y,
        memberships.event,
        memberships.note,
        case
            when ending_decisions.ends_membership_on < coalesce(memberships.valid_to, 'infinity'::date)
                then 'decision'
            when memberships.valid_to is not null then 'registry'
        end as ended_by,
        case
            when ending_decisions.ends_membership_on < coalesce(memberships.valid_to, 'infinity'::date)
                then ending_decisions.decision_id
        end as decision_id,
        case
            when ending_decisions.ends_membership_on < coalesce(memberships.valid_to, 'infinity'::date)
                then ending_decisions.ended_status
        end as decided_status,
        case
            when ending_decisions.ends_membership_on < coalesce(memberships.valid_to, 'infinity'::date)
                then ending_decisions.document_no
        end as document_no
    from memberships
    left join ending_decisions
        on memberships.town_code = ending_decisions.town_code
        and memberships.valid_from = ending_decisions.valid_from

)

select * from final
