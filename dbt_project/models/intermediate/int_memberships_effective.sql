{#- Membership periods as they stand after the annual assessments: the
    registry's periods (seed memberships), each ended at 31 December of the year
    whose assessment removed (调整) or eliminated (淘汰) the town — effective from
    1 January of the next year — unless the registry already ends it earlier.
    ended_by says whether the period's end comes from the registry or from an
    assessment; registry_valid_to keeps what the registry says, so the programme
    office sees the consequences it has not yet recorded. -#}

with memberships as (

    select * from {{ ref('stg_seeds__memberships') }}

),

consequences as (

    select * from {{ ref('int_assessment_consequences') }}

),

period_consequences as (

    select
        consequences.town_code,
        consequences.membership_valid_from,
        min(consequences.year) as consequence_year,
        bool_or(consequences.eliminated_next_year) as is_eliminated,
        bool_or(consequences.removed_next_year) as is_removed
    from consequences
    where consequences.eliminated_next_year or consequences.removed_next_year
    group by consequences.town_code, consequences.membership_valid_from

),

final as (

    select
        memberships.town_code,
        memberships.programme,
        memberships.tier,
        memberships.list_name,
        memberships.valid_from,
        case
            when period_consequences.consequence_year is not null
                then least(
                    coalesce(memberships.valid_to, 'infinity'::date),
                    make_date(period_consequences.consequence_year, 12, 31)
                )
            else memberships.valid_to
        end as valid_to,
        memberships.valid_to as registry_valid_to,
        memberships.plan_investment_3y,
        memberships.event,
        memberships.note,
        period_consequences.consequence_year,
        case
            when period_consequences.is_eliminated then 'eliminated'
            when period_consequences.is_removed then 'removed'
        end as consequence,
        case
            when period_consequences.consequence_year is not null
                and (memberships.valid_to is null or memberships.valid_to > make_date(period_consequences.consequence_year, 12, 31))
                then 'assessment'
            when memberships.valid_to is not null then 'registry'
        end as ended_by
    from memberships
    left join period_consequences
        on memberships.town_code = period_consequences.town_code
        and memberships.valid_from = period_consequences.membership_valid_from

)

select * from final
