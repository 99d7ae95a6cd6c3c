with source as (
    select * from {{ source('prefline', 'normalized_events') }}
),

renamed as (
    select
        record_id,
        event_id,
        partition_date,
        prompt_messages,
        prompt_text,
        prompt_hash,
        template_id,
        template_version,
        pii_kinds,
        edited_content,
        edited_hash
    from source
)

select * from renamed
