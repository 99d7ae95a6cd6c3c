with source as (
    select * from {{ source('prefline', 'raw_feedback_events') }}
),

renamed as (
    select
        record_id,
        event_id,
        event_type,
        created_at,
        partition_date,
        source as feedback_source,
        user_id,
        consent_training,
        prompt_json,
        label_preferred,
        label_tie,
        label_score,
        label_thumb,
        label_edited_content,
        label_discarded,
        coalesce(annotator_kind, 'end_user') as annotator_kind,
        annotator_id,
        coalesce(annotator_saw_model_draft, false) as annotator_saw_model_draft,
        coalesce(policy_version, 'unversioned') as policy_version,
        coalesce(category, 'uncategorized') as category,
        language,
        schema_version,
        content_hash,
        source_file,
        source_line
    from source
)

select * from renamed
