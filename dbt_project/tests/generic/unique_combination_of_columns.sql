{#-
    Fails for every combination of the given columns that occurs more than once
    (the grain of a table). Nulls count as values, so two rows that agree on all
    columns, nulls included, are duplicates.

        data_tests:
          - unique_combination_of_columns:
              arguments:
                combination_of_columns: [year, quarter, town_code]
-#}
{% test unique_combination_of_columns(model, combination_of_columns) %}

with grouped as (

    select
        {%- for column in combination_of_columns %}
        {{ column }},
        {%- endfor %}
        count(*) as n_rows
    from {{ model }}
    group by {% for column in combination_of_columns %}{{ column }}{{ ", " if not loop.last }}{% endfor %}

),

final as (

    select * from grouped
    where n_rows > 1

)

select * from final

{% endtest %}
