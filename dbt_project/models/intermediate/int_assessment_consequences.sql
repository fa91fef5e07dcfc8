{#- The consequences of the annual assessment (work plan 四(四), programme-rules
    section 4), year after year, and who is still assessed:

    - yellow card (黄牌), where seed yellow_card_rules has a rule for the tier: the
      bottom_n lowest scores of the tier in the year (rank() from the bottom, so
      ties at the cut-off all get one) and any score below score_below;
    - cards count within a round (the membership period at Q4); the card that
      brings the count to cards_for_removal removes the town from the next year
      (调整, removed_next_year);
    - eliminated (淘汰), where seed elimination_rules has a rule for the tier: a
      failing grade, or investment completion below min_investment_completion
      (missing investment data counts as not completed);
    - downgrade warning (降档预警), where seed downgrade_warning_rules has a rule: a
      failing grade.

    A removal or elimination ends the membership period at the end of the year, so
    from the next year on the town is no longer assessed in that period (it is
    left out of the ranking and of the yellow-card pool) — a later period of the
    registry (a new list or round) is assessed again. Because who competes for the
    bottom places in a year depends on who was removed before, the years are
    walked in order by a recursive query over every town and every year. -#}

with scores as (

    select * from {{ ref('int_assessment_scores') }}

),

yellow_card_rules as (

    select * from {{ ref('yellow_card_rules') }}

),

elimination_rules as (

    select * from {{ ref('elimination_rules') }}

),

downgrade_warning_rules as (

    select * from {{ ref('downgrade_warning_rules') }}

),

town_years as (

    select
        scores.year,
        scores.town_code,
        scores.programme,
        scores.tier,
        scores.membership_valid_from,
        scores.score,
        scores.is_passing,
        scores.investment_completion,
        scores.investment_completion_missing,
        yellow_card_rules.bottom_n,
        yellow_card_rules.score_below,
        yellow_card_rules.cards_for_removal,
        (elimination_rules.tier is not null) as has_elimination_rule,
        coalesce(elimination_rules.on_failing_grade, false) as eliminate_on_failing_grade,
        elimination_rules.min_investment_completion,
        coalesce(downgrade_warning_rules.on_failing_grade, false) as warn_on_failing_grade
    from scores
    left join yellow_card_rules
        on scores.programme = yellow_card_rules.programme
        and scores.tier = yellow_card_rules.tier
    left join elimination_rules
        on scores.programme = elimination_rules.programme
        and scores.tier = elimination_rules.tier
    left join downgrade_warning_rules
        on scores.programme = downgrade_warning_rules.programme
        and scores.tier = downgrade_warning_rules.tier

),

first_year as (

    select min(year) as year
    from town_years

),

years as (

    select generate_series(min(year), max(year))::integer as year
    from town_years

),

towns as (

    select distinct town_code
    from town_years

),

-- every town in every year, with its assessment row where it has one
grid as (

    select
        years.year,
        towns.town_code,
        (town_years.town_code is not null) as is_member,
        town_years.programme,
        town_years.tier,
        town_years.membership_valid_from,
        town_years.score,
        town_years.is_passing,
        town_years.investment_completion,
        coalesce(town_years.investment_completion_missing, false) as investment_completion_missing,
        town_years.bottom_n,
        town_years.score_below,
        town_years.cards_for_removal,
        coalesce(town_years.has_elimination_rule, false) as has_elimination_rule,
        coalesce(town_years.eliminate_on_failing_grade, false) as eliminate_on_failing_grade,
        town_years.min_investment_completion,
        coalesce(town_years.warn_on_failing_grade, false) as warn_on_failing_grade
    from years
    cross join towns
    left join town_years
        on years.year = town_years.year
        and towns.town_code = town_years.town_code

),

{#- expressions of the recursive step (grid: this year; walk: the state after last year) -#}
{%- set in_population -%}
    (grid.is_member and not coalesce(walk.ended_period = grid.membership_valid_from, false))
{%- endset -%}
{%- set in_card_pool -%}
    ({{ in_population }} and grid.bottom_n is not null and grid.score is not null)
{%- endset -%}
{%- set card_bottom -%}
    ({{ in_card_pool }} and rank() over bottom_of_tier <= grid.bottom_n)
{%- endset -%}
{%- set card_low_score -%}
    ({{ in_card_pool }} and grid.score < grid.score_below)
{%- endset -%}
{%- set yellow_card -%}
    ({{ card_bottom }} or {{ card_low_score }})
{%- endset -%}
{%- set cards_in_round -%}
    (case
        when {{ in_population }} then
            (case when walk.card_period = grid.membership_valid_from then walk.cards_in_round else 0 end)
            + (case when {{ yellow_card }} then 1 else 0 end)
        else walk.cards_in_round
    end)
{%- endset -%}
{%- set removed -%}
    ({{ yellow_card }} and {{ cards_in_round }} >= grid.cards_for_removal)
{%- endset -%}
{%- set eliminated_by_grade -%}
    ({{ in_population }} and grid.has_elimination_rule and grid.eliminate_on_failing_grade
        and coalesce(not grid.is_passing, false))
{%- endset -%}
{%- set eliminated_by_investment -%}
    ({{ in_population }} and grid.has_elimination_rule and grid.min_investment_completion is not null
        and (grid.investment_completion_missing
            or coalesce(grid.investment_completion < grid.min_investment_completion, false)))
{%- endset %}

walked as (

    select * from (

        with recursive walk (
            year,
            town_code,
            is_member,
            membership_valid_from,
            in_population,
            card_bottom,
            card_low_score,
            yellow_card,
            card_period,
            cards_in_round,
            removed_next_year,
            eliminated_by_grade,
            eliminated_by_investment,
            downgrade_warning,
            ended_period
        ) as (

            select
                (first_year.year - 1)::integer,
                towns.town_code,
                false,
                null::date,
                false,
                false,
                false,
                false,
                null::date,
                0,
                false,
                false,
                false,
                false,
                null::date
            from towns
            cross join first_year

            union all

            select
                grid.year,
                grid.town_code,
                grid.is_member,
                grid.membership_valid_from,
                {{ in_population }},
                coalesce({{ card_bottom }}, false),
                coalesce({{ card_low_score }}, false),
                coalesce({{ yellow_card }}, false),
                case when {{ in_population }} then grid.membership_valid_from else walk.card_period end,
                {{ cards_in_round }},
                coalesce({{ removed }}, false),
                coalesce({{ eliminated_by_grade }}, false),
                coalesce({{ eliminated_by_investment }}, false),
                coalesce({{ in_population }} and grid.warn_on_failing_grade and not grid.is_passing, false),
                case
                    when coalesce({{ removed }} or {{ eliminated_by_grade }} or {{ eliminated_by_investment }}, false)
                        then grid.membership_valid_from
                    else walk.ended_period
                end
            from walk
            inner join grid
                on walk.town_code = grid.town_code
                and walk.year + 1 = grid.year
            window bottom_of_tier as (
                partition by grid.year, grid.programme, grid.tier, {{ in_card_pool }}
                order by grid.score
            )

        )

        select * from walk

    ) as walk_result
    where is_member

),

final as (

    select
        year,
        town_code,
        membership_valid_from,
        in_population,
        yellow_card,
        card_bottom as yellow_card_bottom,
        card_low_score as yellow_card_low_score,
        case when in_population then cards_in_round else 0 end as yellow_cards_in_round,
        removed_next_year,
        (eliminated_by_grade or eliminated_by_investment) as eliminated_next_year,
        eliminated_by_grade,
        eliminated_by_investment,
        downgrade_warning
    from walked

)

select * from final
