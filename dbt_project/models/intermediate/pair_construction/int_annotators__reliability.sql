{#- Per-annotator reliability over the window, one row per annotator id (human pairwise labels):
    labels, days and labels per day; agreement with the peer majority on the annotator's
    peer-comparable votes (at least two other voters with a majority, int_annotators__votes)
    and its Wilson interval at gates.confidence; the first-position rate (share of labels that
    chose the response shown first); the share of labels given after seeing the model's draft.
    An annotator is flagged `peer_agreement_below_floor` when it has at least
    label_trust.annotator_min_peer_labels peer-comparable votes and the whole Wilson interval of
    its peer agreement lies below label_trust.annotator_agreement_floor. label_trust.annotator_policy
    decides what a flag does to the annotator's votes (vote_weight): keep (1), weight_down
    (label_trust.annotator_weight_down) or hold_out (0: the votes are ledgered annotator_unreliable).
    Agreement with the judge is added at the manifest, where the judge's verdicts exist. -#}

{%- set z = var('gates_z') | float -%}
{%- set floor = var('annotator_agreement_floor') | float -%}
{%- set policy = var('annotator_policy') -%}

with votes as (
    select * from {{ ref('int_annotators__votes') }}
    where annotator_id is not null
),

per_label as (
    select
        annotator_id,
        record_id,
        min(partition_date) as partition_date,
        {{ dbt.bool_or('chose_first') }} as chose_first,
        {{ dbt.bool_or('saw_draft') }} as saw_draft
    from votes
    group by annotator_id, record_id
),

labels as (
    select
        annotator_id,
        count(*) as labels,
        count(distinct partition_date) as days,
        sum(case when chose_first then 1 else 0 end) as first_position_labels,
        sum(case when saw_draft then 1 else 0 end) as saw_draft_labels
    from per_label
    group by annotator_id
),

peers as (
    select
        annotator_id,
        sum(case when peer_comparable then 1 else 0 end) as peer_votes,
        sum(case when agrees_with_peers then 1 else 0 end) as peer_agreed
    from votes
    group by annotator_id
),

scored as (
    select
        l.annotator_id,
        l.labels,
        l.days,
        cast(l.labels as double) / l.days as labels_per_day,
        p.peer_votes,
        p.peer_agreed,
        case when p.peer_votes > 0 then cast(p.peer_agreed as double) / p.peer_votes end as peer_agreement,
        {#- upper end of the Wilson interval of the peer agreement -#}
        case when p.peer_votes > 0 then
            (cast(p.peer_agreed as double) / p.peer_votes + {{ z * z }} / (2.0 * p.peer_votes)
             + {{ z }} * sqrt((cast(p.peer_agreed as double) / p.peer_votes) * (1 - cast(p.peer_agreed as double) / p.peer_votes) / p.peer_votes
                              + {{ z * z }} / (4.0 * p.peer_votes * p.peer_votes)))
            / (1 + {{ z * z }} / p.peer_votes)
        end as peer_agreement_high,
        cast(l.first_position_labels as double) / l.labels as first_position_rate,
        cast(l.saw_draft_labels as double) / l.labels as saw_draft_share
    from labels l
    inner join peers p on p.annotator_id = l.annotator_id
),

flagged as (
    select
        *,
        peer_votes >= {{ var('annotator_min_peer_labels') }} and peer_agreement_high < {{ floor }} as flagged
    from scored
)

select
    annotator_id,
    labels,
    days,
    labels_per_day,
    peer_votes,
    peer_agreed,
    peer_agreement,
    peer_agreement_high,
    first_position_rate,
    saw_draft_share,
    flagged,
    case when flagged then 'peer_agreement_below_floor' end as flag,
    case when flagged then
        'agrees with the peer majority on ' || cast(peer_agreed as {{ dbt.type_string() }}) || ' of '
        || cast(peer_votes as {{ dbt.type_string() }}) || ' comparisons (upper bound '
        || cast(round(peer_agreement_high, 3) as {{ dbt.type_string() }}) || ' below the floor {{ floor }})'
    end as flag_detail,
    '{{ policy }}' as policy,
    case
        when not flagged then cast(1.0 as double)
        {% if policy == 'hold_out' %}
        else cast(0.0 as double)
        {% elif policy == 'weight_down' %}
        else cast({{ var('annotator_weight_down') | float }} as double)
        {% else %}
        else cast(1.0 as double)
        {% endif %}
    end as vote_weight
from flagged
