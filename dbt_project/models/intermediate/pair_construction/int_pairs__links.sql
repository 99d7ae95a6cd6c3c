{#- Pair construction, one row per (pair, source event). Response "a" is the chosen side for
    human-labeled rules; for pairs the judge must label, a/b follow content-hash order so the
    pair id does not depend on display order. Sides are carried as content hashes (texts join
    in at int_pairs__candidates): rating and thumbs pairs are a self-join per prompt, and
    moving texts through it cost more than the join itself. -#}

with events as (
    select * from {{ ref('int_events__deduped') }}
    where kept
),

responses as (
    select * from {{ ref('stg_normalization__responses') }}
),

{#- Annotators flagged unreliable (int_annotators__reliability) under label_trust.annotator_policy:
    hold_out gives their votes weight 0 (left out here, ledgered annotator_unreliable), weight_down
    a weight below 1; the rest vote with weight 1. -#}
trust as (
    select e.record_id, r.vote_weight, r.flag
    from events e
    inner join {{ ref('int_annotators__reliability') }} r on r.annotator_id = e.annotator_id
    where r.flagged and e.event_type = 'pairwise' and coalesce(e.annotator_kind, 'end_user') <> 'ai'
),

event_responses as (
    select e.record_id, e.prompt_hash, r.position, r.response_id, r.response_hash, r.model, r.content = '' as is_empty
    from events e
    inner join responses r on r.record_id = e.record_id
),

edited as (
    select record_id, edited_content = '' as is_empty
    from {{ ref('stg_normalization__events') }}
    where edited_hash is not null
),

pairwise_preferred as (
    select
        e.record_id,
        'pairwise_preferred' as pair_rule,
        case when e.annotator_kind = 'ai' then 'ai_annotator' else 'human_pairwise' end as label_source,
        false as needs_judge,
        c.response_hash as a_hash, c.model as a_model, c.is_empty as a_empty,
        r.response_hash as b_hash, r.model as b_model, r.is_empty as b_empty
    from events e
    inner join event_responses c on c.record_id = e.record_id and c.response_id = e.label_preferred
    inner join event_responses r on r.record_id = e.record_id and r.response_id <> e.label_preferred
    where e.event_type = 'pairwise' and e.label_preferred is not null
      and e.record_id not in (select record_id from trust where vote_weight = 0)
),

pairwise_unlabeled as (
    select
        e.record_id,
        'pairwise_unlabeled' as pair_rule,
        'ai_judge' as label_source,
        true as needs_judge,
        case when x.response_hash < y.response_hash then x.response_hash else y.response_hash end as a_hash,
        case when x.response_hash < y.response_hash then x.model else y.model end as a_model,
        case when x.response_hash < y.response_hash then x.is_empty else y.is_empty end as a_empty,
        case when x.response_hash < y.response_hash then y.response_hash else x.response_hash end as b_hash,
        case when x.response_hash < y.response_hash then y.model else x.model end as b_model,
        case when x.response_hash < y.response_hash then y.is_empty else x.is_empty end as b_empty
    from events e
    inner join event_responses x on x.record_id = e.record_id
    inner join event_responses y on y.record_id = e.record_id and x.position < y.position
    where e.event_type = 'pairwise'
      and e.label_preferred is null
      and coalesce(e.label_tie, false) = false
),

edits as (
    select
        e.record_id,
        'edit' as pair_rule,
        case when e.annotator_kind = 'ai' then 'ai_annotator' else 'human_edit' end as label_source,
        false as needs_judge,
        e.edited_hash as a_hash, 'human_edit' as a_model, ed.is_empty as a_empty,
        r.response_hash as b_hash, r.model as b_model, r.is_empty as b_empty
    from events e
    inner join edited ed on ed.record_id = e.record_id
    inner join event_responses r on r.record_id = e.record_id and r.position = 0
    where e.event_type = 'edit'
),

{% for kind, score_expr, min_gap in [
    ('rating', 'e.label_score', var('rating_min_gap')),
    ('thumbs', "case e.label_thumb when 'up' then 1 else 0 end", 1),
] %}
{{ kind }}_scored as (
    select e.record_id, e.prompt_hash, {{ score_expr }} as score, r.response_hash, r.model, r.is_empty,
           e.annotator_kind
    from events e
    inner join event_responses r on r.record_id = e.record_id and r.position = 0
    where e.event_type = '{{ kind }}'
),

{#- Only a side's max_pairs_per_prompt best entries can be in the prompt's best pairs (a
    response outside them is beaten, at an equal or larger gap, by each of them), so each side
    is cut first: the join is K x K per prompt, not quadratic in the prompt's ratings. -#}
{{ kind }}_hi as (
    select * from (
        select *, dense_rank() over (partition by prompt_hash order by score desc, response_hash asc) as side_rank
        from {{ kind }}_scored
    ) where side_rank <= {{ var('max_pairs_per_prompt') }}
),

{{ kind }}_lo as (
    select * from (
        select *, dense_rank() over (partition by prompt_hash order by score, response_hash) as side_rank
        from {{ kind }}_scored
    ) where side_rank <= {{ var('max_pairs_per_prompt') }}
),

{{ kind }}_ranked as (
    select
        hi.record_id as hi_record_id,
        lo.record_id as lo_record_id,
        {#- a pair is AI-labeled when either judgement came from an AI annotator -#}
        case when hi.annotator_kind = 'ai' or lo.annotator_kind = 'ai' then 'ai_annotator'
             else 'human_{{ kind }}' end as pair_label_source,
        hi.response_hash as a_hash, hi.model as a_model, hi.is_empty as a_empty,
        lo.response_hash as b_hash, lo.model as b_model, lo.is_empty as b_empty,
        dense_rank() over (
            partition by hi.prompt_hash
            order by hi.score - lo.score desc, hi.response_hash asc, lo.response_hash asc
        ) as rank_in_prompt
    from {{ kind }}_hi hi
    inner join {{ kind }}_lo lo
        on lo.prompt_hash = hi.prompt_hash
        and hi.score - lo.score >= {{ min_gap }}
        and hi.response_hash <> lo.response_hash
),

{{ kind }}_pairs as (
    {% for side in ['hi', 'lo'] %}
    select
        {{ side }}_record_id as record_id,
        '{{ kind }}_gap' as pair_rule,
        pair_label_source as label_source,
        false as needs_judge,
        a_hash, a_model, a_empty, b_hash, b_model, b_empty
    from {{ kind }}_ranked
    where rank_in_prompt <= {{ var('max_pairs_per_prompt') }}
    {% if not loop.last %}union all{% endif %}
    {% endfor %}
),
{% endfor %}

regenerations as (
    select
        e.record_id,
        'regenerate' as pair_rule,
        case when e.annotator_kind = 'ai' then 'ai_annotator' else 'human_regenerate' end as label_source,
        false as needs_judge,
        k.response_hash as a_hash, k.model as a_model, k.is_empty as a_empty,
        d.response_hash as b_hash, d.model as b_model, d.is_empty as b_empty
    from events e
    inner join event_responses d on d.record_id = e.record_id and d.response_id = e.label_discarded
    inner join event_responses k on k.record_id = e.record_id and k.response_id <> e.label_discarded
    where e.event_type = 'regenerate' and {{ 'true' if var('include_regenerate') else 'false' }}
),

all_links as (
    select * from pairwise_preferred
    union all select * from pairwise_unlabeled
    union all select * from edits
    union all select * from rating_pairs
    union all select * from thumbs_pairs
    union all select * from regenerations
),

keyed as (
    select
        {{ dbt.hash("l.pair_rule || '|' || e.prompt_hash || '|' || l.a_hash || '|' || l.b_hash") }} as direct_id,
        l.record_id,
        e.event_id,
        l.pair_rule,
        l.label_source,
        l.needs_judge,
        e.prompt_hash,
        e.cluster_id,
        l.a_hash,
        l.a_model,
        l.b_hash,
        l.b_model
    from all_links l
    inner join events e on e.record_id = l.record_id
    where l.a_hash <> l.b_hash
      and not l.a_empty
      and not l.b_empty
),

{#- One row per (direction, record): two ratings can build one pair through the same record,
    and the same text can come from different models; the model named is then the smallest. -#}
per_record as (
    select
        direct_id,
        record_id,
        min(event_id) as event_id,
        min(pair_rule) as pair_rule,
        min(label_source) as label_source,
        {{ dbt.bool_or('needs_judge') }} as needs_judge,
        min(prompt_hash) as prompt_hash,
        min(cluster_id) as cluster_id,
        min(a_hash) as a_hash,
        min(a_model) as a_model,
        min(b_hash) as b_hash,
        min(b_model) as b_model
    from keyed
    group by direct_id, record_id
),

{#- Votes. Every pairwise preference on one comparison (the same prompt and the same two
    responses, shown in either order) is one vote on one pair. Majority rule: the side more
    votes preferred is chosen; a tie has no majority, and the pair is ledgered
    annotators_disagree at labeling (never published either way). agreement is the majority's
    share of the votes, margin (majority - minority) / votes. Votes count by their vote_weight
    (1, or label_trust.annotator_weight_down for a flagged annotator under weight_down), and
    label_weight is the mean weight of the majority's votes, which the published weight takes.
    Other rules carry one judgement per pair: votes 1, agreement, margin and weights 1. -#}
voted as (
    select
        per_record.*,
        case when per_record.pair_rule = 'pairwise_preferred' then coalesce(t.vote_weight, 1.0) else 1.0 end
            as vote_weight,
        case when per_record.pair_rule = 'pairwise_preferred' then t.flag end as annotator_flag,
        case when pair_rule = 'pairwise_preferred'
            then {{ dbt.hash("pair_rule || '|' || prompt_hash || '|' || least(a_hash, b_hash) || '|' || greatest(a_hash, b_hash)") }}
            else direct_id
        end as comparison_id,
        case when a_hash < b_hash then 1 else 0 end as prefers_low
    from per_record
    left join trust t on t.record_id = per_record.record_id
),

tallies as (
    select
        comparison_id,
        count(*) as votes,
        sum(prefers_low) as low_votes,
        sum(prefers_low * vote_weight) as low_weight,
        sum(vote_weight) as total_weight,
        min(least(a_hash, b_hash)) as low_hash,
        min(greatest(a_hash, b_hash)) as high_hash,
        min(case when a_hash < b_hash then a_model else b_model end) as low_model,
        min(case when a_hash < b_hash then b_model else a_model end) as high_model
    from voted
    group by comparison_id
),

decided as (
    select
        *,
        case when low_weight * 2 > total_weight then 'low' when low_weight * 2 < total_weight then 'high' end
            as majority,
        case when low_weight * 2 < total_weight then votes - low_votes
             when low_weight * 2 > total_weight then low_votes
             else greatest(low_votes, votes - low_votes) end as majority_votes,
        greatest(low_weight, total_weight - low_weight) as majority_weight,
        least(low_weight, total_weight - low_weight) as minority_weight,
        case when low_weight * 2 < total_weight then total_weight - low_weight
             when low_weight * 2 > total_weight then low_weight end as majority_side_weight
    from tallies
),

{#- The published pair id is that of the majority direction (of the smaller content hash first
    on a tie), so a unanimous pair keeps the id it has with a single vote. -#}
resolved as (
select
    case
        when v.pair_rule <> 'pairwise_preferred' then v.direct_id
        else {{ dbt.hash("v.pair_rule || '|' || v.prompt_hash || '|' || (case when d.majority = 'high' then d.high_hash else d.low_hash end) || '|' || (case when d.majority = 'high' then d.low_hash else d.high_hash end)") }}
    end as pair_id,
    v.record_id,
    v.event_id,
    v.pair_rule,
    v.label_source,
    v.needs_judge,
    v.prompt_hash,
    v.cluster_id,
    case when v.pair_rule <> 'pairwise_preferred' then v.a_hash when d.majority = 'high' then d.high_hash else d.low_hash end as a_hash,
    case when v.pair_rule <> 'pairwise_preferred' then v.a_model when d.majority = 'high' then d.high_model else d.low_model end as a_model,
    case when v.pair_rule <> 'pairwise_preferred' then v.b_hash when d.majority = 'high' then d.low_hash else d.high_hash end as b_hash,
    case when v.pair_rule <> 'pairwise_preferred' then v.b_model when d.majority = 'high' then d.low_model else d.high_model end as b_model,
    case
        when v.pair_rule <> 'pairwise_preferred' then 'only'
        when d.majority is null then 'tied'
        when (d.majority = 'low') = (v.prefers_low = 1) then 'majority'
        else 'minority'
    end as vote,
    case when v.pair_rule <> 'pairwise_preferred' then 1 else d.votes end as votes,
    case when v.pair_rule <> 'pairwise_preferred' then 1 else d.majority_votes end as majority_votes,
    case when v.pair_rule <> 'pairwise_preferred' then cast(1.0 as double)
         else cast(d.majority_weight as double) / d.total_weight end as agreement,
    case when v.pair_rule <> 'pairwise_preferred' then cast(1.0 as double)
         else cast(d.majority_weight - d.minority_weight as double) / d.total_weight end as margin,
    cast(v.vote_weight as double) as vote_weight,
    v.annotator_flag,
    case when v.pair_rule <> 'pairwise_preferred' or d.majority is null then cast(1.0 as double)
         else cast(d.majority_side_weight as double) / d.majority_votes end as label_weight
from voted v
inner join decided d on d.comparison_id = v.comparison_id
),

{#- One comparison, one pair. The same two responses to one prompt can be compared by several
    rules (an OpenAssistant ranking and its thumbs, two ratings of one text): the strongest
    evidence decides — pairwise votes, then an edit, a rating gap, a thumbs gap, a
    regeneration, and last a pair left to the judge. The other pairs are superseded (ledgered
    comparison_superseded at labeling), so no comparison is published twice or both ways. -#}
rule_ordered as (
    select
        *,
        case pair_rule
            when 'pairwise_preferred' then 1 when 'edit' then 2 when 'rating_gap' then 3
            when 'thumbs_gap' then 4 when 'regenerate' then 5 else 6
        end as rule_order
    from resolved
),

ranked_rules as (
    select
        {{ star_except('rule_ordered', ['rule_order']) }},
        first_value(pair_rule) over (
            partition by prompt_hash, least(a_hash, b_hash), greatest(a_hash, b_hash) order by rule_order, pair_id
        ) as deciding_rule,
        first_value(pair_id) over (
            partition by prompt_hash, least(a_hash, b_hash), greatest(a_hash, b_hash) order by rule_order, pair_id
        ) as deciding_pair_id
    from rule_ordered
)

select
    {{ star_except('ranked_rules', ['deciding_rule', 'deciding_pair_id']) }},
    case when pair_id <> deciding_pair_id then deciding_rule end as superseded_by_rule,
    case when pair_id <> deciding_pair_id then deciding_pair_id end as superseded_by_pair_id
from ranked_rules
