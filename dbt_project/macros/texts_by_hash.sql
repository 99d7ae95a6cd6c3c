{#- Texts looked up by content hash, for the hashes a query selects. A window repeats its
    texts many times over (millions of events, thousands of prompts), so a model carries
    hashes and takes each text once from here; equal hashes are equal texts, and the
    smallest copy is taken. -#}

{#- prompt_hash -> prompt_messages (prompt_hash is the md5 of prompt_messages). -#}
{% macro prompt_texts(hashes_sql) -%}
    select prompt_hash, min(prompt_messages) as prompt_messages
    from {{ ref('stg_normalization__events') }}
    where prompt_hash in ({{ hashes_sql }})
    group by prompt_hash
{%- endmacro %}

{#- content hash -> text, over normalized responses and, with edits=true, edited texts. -#}
{% macro response_texts(hashes_sql, edits=false) -%}
    select text_hash, min(content) as content
    from (
        select response_hash as text_hash, content
        from {{ ref('stg_normalization__responses') }}
        where response_hash in ({{ hashes_sql }})
        {% if edits %}
        union all
        select edited_hash, edited_content
        from {{ ref('stg_normalization__events') }}
        where edited_hash in ({{ hashes_sql }})
        {% endif %}
    ) texts
    group by text_hash
{%- endmacro %}
