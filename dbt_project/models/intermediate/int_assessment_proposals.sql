{#- The proposals (建议) of every assessed town-year (programme-rules section 5),
    each rule and number from the seeds valid in that year. Only a comparable score
    ranks and grounds a proposal, except remove, which follows the decided cards.
      rank_in_tier         rank() by score, highest first, among the comparable
                           scores of (year, programme, tier): 95, 94, 94, 93 → 1, 2, 2, 4;
      eliminate            elimination_rules: failing grade, or investment completion
                           (unrounded) below min_investment_completion;
      yellow_card          yellow_card_rules (得分靠后): in the group (year, programme,
                           tier, list_name = the round) of comparable scores, when it
                           has at least min_group of them: a score at or below the
                           bottom_n-th lowest (the cut-off) and, with below_median,
                           below the group's median; all towns tied at the cut-off are
                           proposed, and card_tie marks them when that makes more than
                           bottom_n proposals;
      remove               the town-year whose DECIDED yellow card (int_decisions) is
                           the cards_for_removal-th of the town in that round; once;
                           regardless of group size and comparability; not while pending;
      downgrade_risk       downgrade_risk_rules (provincial creation list): failing
                           grade or completion below min_investment_completion;
      excellent_candidate  excellent_candidate_rules (characteristic towns): the top
                           grade of the year and a rank within max_rank. -#}

with scores as (

    select * from {{ ref('int_assessment_scores') }}

),

decisions as (

    select * from {{ ref('int_decisions') }}

),

yellow_card_rules as (

    select * from {{ ref('yellow_card_rules') }}

),

elimination_rules as (

    select * from {{ ref('elimination_rules') }}

),

downgrade_risk_rules as (

    select * from {{ ref('downgrade_risk_rules') }}

),

assessment_grades as (

    select * from {{ ref('assessment_grades') }}

),

excellent_candidate_rules as (

    select * from {{ ref('excellent_candidate_rules') }}

),

ranked as (

    select
        scores.*,
        case
            when scores.comparable then rank() over (
                partition by scores.year, scores.programme, scores.tier, scores.comparable
                order by scores.score desc
            )
        end as rank_in_tier,
        count(*) filter (where scores.comparable) over (
            partition by scores.year, scores.programme, scores.tier
        ) as n_ranked_in_tier
    from scores

),

card_groups as (

    select
        scores.year,
        scores.programme,
        scores.tier,
        scores.list_name,
        yellow_card_rules.bottom_n,
        yellow_card_rules.min_group,
        yellow_card_rules.below_median,
        count(*) as n_comparable,
        percentile_cont(0.5) within group (order by scores.score) as median_score,
        (array_agg(scores.score order by scores.score))[yellow_card_rules.bottom_n] as cutoff_score
    from scores
    inner join yellow_card_rules
        on scores.programme = yellow_card_rules.programme
        and scores.tier = yellow_card_rules.tier
        and {{ in_force('yellow_card_rules', 'scores.year') }}
    where scores.comparable
    group by 1, 2, 3, 4, 5, 6, 7

),

card_candidates as (

    select
        ranked.year,
        ranked.town_code,
        ranked.programme,
        ranked.tier,
        ranked.list_name,
        ranked.score,
        card_groups.n_comparable,
        card_groups.median_score,
        card_groups.cutoff_score,
        card_groups.bottom_n,
        (
            card_groups.n_comparable >= card_groups.min_group
            and ranked.score <= card_groups.cutoff_score
            and (not card_groups.below_median or ranked.score < card_groups.median_score)
        ) as proposed
    from ranked
    inner join card_groups
        on ranked.year = card_groups.year
        and ranked.programme = card_groups.programme
        and ranked.tier = card_groups.tier
        and ranked.list_name = card_groups.list_name
    where ranked.comparable

),

cards as (

    select
        card_candidates.*,
        count(*) filter (where card_candidates.proposed) over (
            partition by card_candidates.year, card_candidates.programme, card_candidates.tier, card_candidates.list_name
        ) as n_proposed
    from card_candidates

),

decided_cards as (

    select
        scores.year,
        scores.town_code,
        count(decisions.decision_id) as cards_in_round,
        coalesce(bool_or(decisions.assessment_year = scores.year), false) as carded_this_year
    from scores
    left join decisions
        on decisions.action = 'yellow_card'
        and scores.town_code = decisions.town_code
        and scores.list_name = decisions.list_name
        and decisions.assessment_year <= scores.year
    group by 1, 2

),

top_grades as (

    select distinct on (years.year)
        years.year,
        assessment_grades.grade
    from (select distinct year from scores) as years
    inner join assessment_grades
        on {{ in_force('assessment_grades', 'years.year') }}
    order by years.year, assessment_grades.min_score desc

),

flagged as (

    select
        ranked.*,
        coalesce(cards.proposed, false) as proposes_yellow_card,
        coalesce(cards.proposed and cards.score = cards.cutoff_score and cards.n_proposed > cards.bottom_n, false)
            as card_tie,
        cards.n_comparable as card_group_size,
        cards.median_score as card_group_median,
        cards.bottom_n as card_bottom_n,
        decided_cards.cards_in_round as decided_cards_in_round,
        decided_cards.carded_this_year,
        yellow_card_rules.cards_for_removal,
        elimination_rules.on_failing_grade as eliminate_on_failing_grade,
        elimination_rules.min_investment_completion as eliminate_below_completion,
        downgrade_risk_rules.on_failing_grade as risk_on_failing_grade,
        downgrade_risk_rules.min_investment_completion as risk_below_completion,
        excellent_candidate_rules.max_rank as excellent_max_rank,
        top_grades.grade as top_grade
    from ranked
    left join cards
        on ranked.year = cards.year
        and ranked.town_code = cards.town_code
    left join decided_cards
        on ranked.town_code = decided_cards.town_code
        and ranked.year = decided_cards.year
    left join yellow_card_rules
        on ranked.programme = yellow_card_rules.programme
        and ranked.tier = yellow_card_rules.tier
        and {{ in_force('yellow_card_rules', 'ranked.year') }}
    left join elimination_rules
        on ranked.programme = elimination_rules.programme
        and ranked.tier = elimination_rules.tier
        and {{ in_force('elimination_rules', 'ranked.year') }}
    left join downgrade_risk_rules
        on ranked.programme = downgrade_risk_rules.programme
        and ranked.tier = downgrade_risk_rules.tier
        and {{ in_force('downgrade_risk_rules', 'ranked.year') }}
    left join excellent_candidate_rules
        on ranked.programme = excellent_candidate_rules.programme
        and ranked.tier = excellent_candidate_rules.tier
        and {{ in_force('excellent_candidate_rules', 'ranked.year') }}
    left join top_grades
        on ranked.year = top_grades.year

),

proposed as (

    select
        flagged.*,
        coalesce(flagged.comparable and (
            (flagged.eliminate_on_failing_grade and not flagged.is_passing)
            or flagged.investment_completion < flagged.eliminate_below_completion
        ), false) as propose_eliminate,
        flagged.proposes_yellow_card as propose_yellow_card,
        coalesce(
            not flagged.pending and flagged.carded_this_year
            and flagged.decided_cards_in_round = flagged.cards_for_removal,
            false
        ) as propose_remove,
        coalesce(flagged.comparable and (
            (flagged.risk_on_failing_grade and not flagged.is_passing)
            or flagged.investment_completion < flagged.risk_below_completion
        ), false) as propose_downgrade_risk,
        coalesce(
            flagged.comparable
            and flagged.grade = flagged.top_grade and flagged.rank_in_tier <= flagged.excellent_max_rank,
            false
        ) as propose_excellent_candidate
    from flagged

),

final as (

    select * from proposed

)

select * from final
