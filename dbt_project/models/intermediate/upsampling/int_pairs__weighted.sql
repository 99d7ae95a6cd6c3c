{#- Train pairs of under-represented categories are weighted up toward the configured
    category targets (never down, capped at max_weight); test pairs keep weight 1 so the
    evaluation distribution stays the observed one. In replicate mode the weight becomes
    whole row copies instead. The published weight is also multiplied by the pair's
    label_weight (below 1 only when its majority rests on annotators weighted down under
    label_trust.annotator_policy: weight_down). -#}

{%- set targets = var('category_targets') -%}
{%- set max_weight = var('max_weight') | float -%}
{%- set replicate = var('upsampling_mode') == 'replicate' -%}

with pairs as (
    select * from {{ ref('int_pairs__labeled') }}
    where kept
),

train_mix as (
    select category, cast(count(*) as double) / sum(count(*)) over () as observed_share
    from pairs
    where split = 'train'
    group by category
),

targets as (
    {% if targets | length > 0 %}
    {% for category, share in targets.items() %}
    select '{{ category }}' as category, cast({{ share }} as double) as target_share
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
    {% else %}
    select cast(null as {{ dbt.type_string() }}) as category, cast(null as double) as target_share
    where 1 = 0
    {% endif %}
),

weighted as (
    select
        p.*,
        case
            when p.split = 'train' and t.target_share is not null and m.observed_share > 0
                then least(cast({{ max_weight }} as double), greatest(cast(1.0 as double), t.target_share / m.observed_share))
            else cast(1.0 as double)
        end as category_weight
    from pairs p
    left join train_mix m on m.category = p.category and p.split = 'train'
    left join targets t on t.category = p.category
),

replica_numbers as (
    {% for i in range(max_weight | round(0, 'ceil') | int) %}
    select {{ i }} as replica_index {% if not loop.last %}union all{% endif %}
    {% endfor %}
)

select
    w.*,
    r.replica_index,
    {% if replicate %}
    cast(round(w.category_weight) as integer) as replicas,
    cast(w.label_weight as double) as weight
    {% else %}
    1 as replicas,
    w.category_weight * w.label_weight as weight
    {% endif %}
from weighted w
inner join replica_numbers r
    on r.replica_index < {% if replicate %}cast(round(w.category_weight) as integer){% else %}1{% endif %}
