with source as (
    select * from {{ source('prefline', 'prompt_clusters') }}
),

renamed as (
    select
        prompt_hash,
        cluster_id,
        kept_prompt_hash,
        similarity
    from source
)

select * from renamed
