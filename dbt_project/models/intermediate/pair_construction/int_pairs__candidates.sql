{#- One row per candidate pair. Prompt, category, template and policy come from the pair's
    earliest source event; the split follows the prompt's near-duplicate cluster so that a
    cluster never straddles train and test. Every distinct pair is kept, up to
    max_pairs_per_cluster per cluster (0: no cap): human labels first, then the earliest;
    the rest are capped and leave at labeling as duplicate_near. Texts (the prompt and the
    two responses, by content hash) join in here, once per pair under the cap: those are the
    pairs the judge, the label audit and the published set read; a capped or superseded pair
    (int_pairs__links: one comparison, one pair) names its prompt and sides by hash only. -#}

with links as (
    select * from {{ ref('int_pairs__links') }}
),

events as (
    select * from {{ ref('int_events__deduped') }}
    where kept
),

ranked as (
    select
        l.*,
        e.category,
        e.template_id,
        e.template_version,
        e.policy_version,
        e.annotator_kind,
        e.annotator_saw_model_draft,
        e.partition_date,
        row_number() over (partition by l.pair_id order by e.created_at, e.event_id, e.record_id) as source_rank,
        min(e.created_at) over (partition by l.pair_id) as first_seen_at,
        count(*) over (partition by l.pair_id) as n_source_events,
        max(case when e.annotator_saw_model_draft then 1 else 0 end) over (partition by l.pair_id) as any_saw_draft
    from links l
    inner join events e on e.record_id = l.record_id
),

pairs as (
    select
        pair_id,
        pair_rule,
        label_source,
        needs_judge,
        prompt_hash,
        cluster_id,
        a_hash,
        a_model,
        b_hash,
        b_model,
        category,
        template_id,
        template_version,
        policy_version,
        annotator_kind,
        any_saw_draft = 1 as annotator_saw_model_draft,
        n_source_events,
        votes,
        majority_votes,
        agreement,
        margin,
        superseded_by_rule,
        superseded_by_pair_id,
        label_weight,
        partition_date,
        first_seen_at,
        {{ split_of('cluster_id') }} as split
    from ranked
    where source_rank = 1
),

in_cluster as (
    select
        pairs.*,
        row_number() over (
            partition by cluster_id
            order by superseded_by_rule is not null, needs_judge, label_source not like 'human_%', first_seen_at, pair_id
        ) as rank_in_cluster,
        count(*) over (partition by cluster_id) as pairs_in_cluster
    from pairs
),

capped as (
    select
        *,
        superseded_by_rule is null and {{ var('max_pairs_per_cluster') }} > 0
            and rank_in_cluster > {{ var('max_pairs_per_cluster') }} as capped,
        superseded_by_rule is null and not (
            {{ var('max_pairs_per_cluster') }} > 0 and rank_in_cluster > {{ var('max_pairs_per_cluster') }}
        ) as goes_on
    from in_cluster
),

prompts as (
    {{ prompt_texts('select prompt_hash from capped where goes_on') }}
),

texts as (
    {{ response_texts('select a_hash from capped where goes_on union select b_hash from capped where goes_on', edits=true) }}
)

select
    c.pair_id,
    c.pair_rule,
    c.label_source,
    c.needs_judge,
    c.prompt_hash,
    c.cluster_id,
    n.prompt_messages,
    a.content as a_content,
    c.a_hash,
    c.a_model,
    b.content as b_content,
    c.b_hash,
    c.b_model,
    {{ star_except('c', ["pair_id", "pair_rule", "label_source", "needs_judge", "prompt_hash", "cluster_id", "a_hash", "a_model", "b_hash", "b_model", "first_seen_at", "capped", "goes_on"]) }},
    c.capped
from capped c
left join prompts n on n.prompt_hash = c.prompt_hash and c.goes_on
left join texts a on a.text_hash = c.a_hash and c.goes_on
left join texts b on b.text_hash = c.b_hash and c.goes_on
