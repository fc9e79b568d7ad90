"""The merge's statements for votes: the newest vote per owner and target in the file, which stored
votes it creates or changes, and the rows the audit trail records (used by `merge.MERGE`)."""

from __future__ import annotations

CREATE_VOTES = """
    CREATE TEMP TABLE _votes AS
    SELECT q.*, coalesce(byid.feedback_id, bykey.feedback_id, q.new_id) AS target_id
    FROM (
        SELECT s.feedback_id AS new_id, s.thread_id, s.run_id, s.owner_id, s.message_id, s.scope, s.rating,
               s.comment, s.tags, s.source, s.created_at, s.updated_at, s.line,
               row_number() OVER (PARTITION BY CASE WHEN s.owner_id IS NULL THEN s.feedback_id
                                                    ELSE s.run_id || '|' || s.owner_id || '|' || s.scope END
                                  ORDER BY coalesce(s.updated_at, s.created_at) DESC NULLS LAST, s.line DESC)
                   AS pick
        FROM _stage_feedback s
    ) q
    LEFT JOIN _stored_votes byid ON byid.feedback_id = q.new_id
    LEFT JOIN _stored_votes bykey ON q.owner_id IS NOT NULL AND bykey.run_id = q.run_id
         AND bykey.owner_id = q.owner_id AND bykey.scope = q.scope
    WHERE q.pick = 1
    """

# Stored votes the file changes. It runs only when `CHANGING_VOTES` found one: on DuckDB the join reads
# every column of all stored votes (0.1 to 0.2 s at a million) even when it changes none.
UPDATE_VOTES = """
    UPDATE feedback SET
        rating = v.rating,
        comment = v.comment,
        tags = v.tags,
        source = v.source,
        updated_at = coalesce(v.updated_at, v.created_at, feedback.updated_at)
    FROM _votes v
    WHERE feedback.feedback_id = v.target_id
      AND (feedback.rating <> v.rating OR feedback.comment IS DISTINCT FROM v.comment
           OR feedback.tags <> v.tags OR feedback.source <> v.source)
    """

# `_written` holds the votes the import creates, then those it changes (as stored after the change):
# the audit rows' values after (audit.record_import), without reading the million stored votes again.
WRITTEN = """feedback_id, thread_id, run_id, owner_id, message_id, scope, rating, comment, tags, source, created_at,
    updated_at, run_at, run_assistant_id, run_model_name, run_status"""
WRITTEN_UPDATES = f"""
    INSERT INTO _written ({WRITTEN})
    SELECT {WRITTEN} FROM feedback WHERE feedback_id IN (SELECT feedback_id FROM _changing WHERE NOT created)
    """

# The votes this import will create or change, with their stored values before the merge (audit trail).
CHANGING_VOTES = """
CREATE TEMP TABLE _changing AS
SELECT v.target_id AS feedback_id, f.feedback_id IS NULL AS created,
       f.owner_id, f.message_id, f.rating, f.comment, f.tags, f.source, f.created_at, f.updated_at
FROM _votes v LEFT JOIN _stored_votes f ON f.feedback_id = v.target_id
WHERE f.feedback_id IS NULL OR f.rating <> v.rating OR f.comment IS DISTINCT FROM v.comment
   OR f.tags <> v.tags OR f.source <> v.source
"""
