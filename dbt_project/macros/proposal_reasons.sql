{% macro grade_or_task_reason(flag, on_failing, below, name, row='proposals') -%}
{#- The reasons (Chinese `<name>_zh`, English `<name>_en`) of a proposal grounded on a failing grade
    or an unfinished annual investment task (eliminate, downgrade_risk): the rule's columns `on_failing`
    and `below` of relation `row` say which ground applies. Used by fct_town_annual_assessment. -#}
{%- set score_text = "trim_scale(round(" ~ row ~ ".score, 2))::text" -%}
{%- set completion_pct = "trim_scale(round(" ~ row ~ ".investment_completion * 100, 1))::text" -%}
case when {{ row }}.{{ flag }} then concat_ws('，',
            case when {{ row }}.{{ on_failing }} and not {{ row }}.is_passing
                then '考核' || {{ row }}.grade || '（' || {{ score_text }} || '分）' end,
            case when {{ row }}.investment_completion < {{ row }}.{{ below }}
                then '未完成年度投资任务（完成' || {{ completion_pct }} || '%）' end
        ) end as {{ name }}_zh,
        case when {{ row }}.{{ flag }} then concat_ws(', ',
            case when {{ row }}.{{ on_failing }} and not {{ row }}.is_passing
                then 'failing grade (' || {{ score_text }} || ')' end,
            case when {{ row }}.investment_completion < {{ row }}.{{ below }}
                then 'annual investment task not completed (' || {{ completion_pct }} || '%)' end
        ) end as {{ name }}_en
{%- endmacro %}
