{#- Unpaired feedback for KTO-style trainers: prompt, completion, desirable or not, with the
    texts of the event's prompt and first response. -#}

with kto as (
    select * from {{ ref('int_kto__candidates') }}
),

prompts as (
    {{ prompt_texts('select prompt_hash from kto') }}
),

completions as (
    {{ response_texts('select completion_hash from kto') }}
)

select
    k.kto_id,
    k.record_id,
    k.event_id,
    k.split,
    n.prompt_messages,
    r.content as completion,
    k.completion_hash,
    k.completion_model,
    k.desirable,
    k.label_source,
    k.prompt_hash,
    k.cluster_id,
    k.category,
    k.template_id,
    k.policy_version
from kto k
inner join prompts n on n.prompt_hash = k.prompt_hash
inner join completions r on r.text_hash = k.completion_hash
