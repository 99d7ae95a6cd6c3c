{#- Unpaired feedback for KTO-style trainers: prompt, completion, desirable or not. -#}

select
    kto_id,
    record_id,
    event_id,
    split,
    prompt_messages,
    completion,
    completion_hash,
    completion_model,
    desirable,
    label_source,
    prompt_hash,
    cluster_id,
    category,
    template_id,
    policy_version
from {{ ref('int_kto__candidates') }}
