-- Consolidation of near-duplicate episodes (issue 20, item 3). Tables: migration 022
-- (memory.consolidations, memory.consolidation_progress). Decisions and the measured
-- thresholds: docs/decisions.md ("Consolidation").
--
-- Two episodes of one agent are duplicates when a chunk of one has a chunk of the other
-- among its nearest neighbours with cosine >= min_cosine AND their whole texts have a
-- trigram similarity >= min_text (memory.text_similarity: pg_trgm on the lower-cased
-- letters and digits, no language of its own, so Spanish and English alike; a
-- translation is not a duplicate), in the same project,
-- and the pair was not merged and undone before. A merge keeps one episode (an episode
-- that already keeps others, else the most important, then the most used, then the
-- oldest), adds to it the other's tags and metadata keys it lacks and its importance if
-- higher, records the other's whole row in memory.consolidations and deletes it (its
-- chunks with it): every search then shows one of the group without a change of its own.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.text_similarity(a text, b text)
RETURNS real
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, public, pg_temp
AS $$
    -- lower-cased, letters and digits only (of any script), run together: the trigrams
    -- then span word boundaries, so word order counts ("Bye Nate" is not "Nate bye")
    SELECT CASE
               WHEN a IS NULL OR b IS NULL THEN NULL
               -- lengths far apart cannot be near-identical: no trigrams needed
               WHEN least(char_length(x), char_length(y)) < 0.5 * greatest(char_length(x), char_length(y)) THEN 0
               ELSE public.similarity(x, y)
           END::real
    FROM (SELECT regexp_replace(lower(a), '[^[:alnum:]]+', '', 'g') AS x,
                 regexp_replace(lower(b), '[^[:alnum:]]+', '', 'g') AS y) AS n
$$;

COMMENT ON FUNCTION memory.text_similarity(text, text) IS
'Trigram similarity (pg_trgm) of two texts reduced to their lower-cased letters and digits run together, 0..1: punctuation, case and spacing do not count, words and their order do; any script (Spanish accents are letters). 0 when one is under half the other''s length; NULL when either is NULL. Raises nothing.';

-- The candidate pairs of a batch: each chunk of chunk_ids looks up its neighbours nearest
-- neighbours among the agent's chunks of the model (exactly when exact or when the agent
-- has at most 10,000 chunks, memory._rank_exactly; else through HNSW), and a pair
-- of episodes passes with its best cosine >= min_cosine and its text similarity >= min_text.
CREATE OR REPLACE FUNCTION memory._duplicate_pairs(
    agent uuid, chunk_ids bigint [], min_cosine real, min_text real, neighbours integer DEFAULT 5,
    exact boolean DEFAULT false, settled_before timestamptz DEFAULT 'infinity'
)
RETURNS TABLE (episode_a uuid, episode_b uuid, cosine real, text_similarity real)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    model record;
BEGIN
    SELECT m.model_id, m.dimensions INTO model FROM memory.embedding_models AS m WHERE m.is_serving;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY EXECUTE format(
        $q$
        WITH src AS (
            SELECT c.episode_id, c.embedding AS v
            FROM memory.chunks AS c
            WHERE c.chunk_id = ANY ($1) AND c.agent_id = $2 AND c.model_id = %2$s AND c.episode_id IS NOT NULL
        ),
        near AS (
            SELECT least(s.episode_id, n.episode_id) AS a, greatest(s.episode_id, n.episode_id) AS b,
                   max(1 - n.dist) AS cosine
            FROM src AS s
            CROSS JOIN LATERAL (
                SELECT c.episode_id, c.embedding OPERATOR(public.<=>) s.v AS dist
                FROM memory.chunks AS c
                WHERE c.model_id = %2$s AND c.agent_id = $2 AND c.episode_id IS NOT NULL
                  AND c.episode_id <> s.episode_id AND c.embedded_at <= $6
                ORDER BY %3$s
                LIMIT $3
            ) AS n
            WHERE 1 - n.dist >= $4
            GROUP BY 1, 2
        )
        SELECT p.a, p.b, p.cosine::real, t.sim
        FROM near AS p
        JOIN memory.episodes AS ea ON ea.episode_id = p.a AND ea.agent_id = $2
        JOIN memory.episodes AS eb ON eb.episode_id = p.b AND eb.agent_id = $2
        CROSS JOIN LATERAL (SELECT memory.text_similarity(ea.content, eb.content) AS sim) AS t
        WHERE ea.project_id IS NOT DISTINCT FROM eb.project_id
          AND t.sim >= $5
          AND NOT EXISTS (
              SELECT 1 FROM memory.consolidations AS x
              WHERE x.agent_id = $2 AND x.undone_at IS NOT NULL
                AND ((x.merged_id = p.a AND x.kept_id = p.b) OR (x.merged_id = p.b AND x.kept_id = p.a))
          )
        $q$,
        model.dimensions, model.model_id,
        -- exactly for an agent with few chunks, as search does: the shared graph would
        -- strand the walk among other agents' vectors; else the graph's order
        -- (memory._graph_order_sql). The cosine compared with min_cosine is the exact one.
        CASE WHEN exact OR memory._rank_exactly(agent, model.model_id) THEN '2'
             ELSE memory._graph_order_sql(model.dimensions, 's.v') END
    )
    USING chunk_ids, agent, neighbours, min_cosine, min_text, settled_before;
END
$$;

COMMENT ON FUNCTION memory._duplicate_pairs(uuid, bigint [], real, real, integer, boolean, timestamptz) IS
'Private (consolidation): pairs of the agent''s episodes (episode_a < episode_b) where a chunk of chunk_ids (serving model) has a chunk of the other, embedded at or before settled_before, among its neighbours nearest (exactly when exact or for an agent of at most 10,000 chunks, else through HNSW) with cosine >= min_cosine, the texts have memory.text_similarity >= min_text, the project is the same and the pair was not merged and undone before. Raises nothing of its own.';

-- One merge. Lock order of the daemon: the merged episode's embedding jobs first, then
-- the episodes; anything another session holds now is skipped (-1), never waited for.
CREATE OR REPLACE FUNCTION memory._merge_pair(agent uuid, a uuid, b uuid, cosine real, text_sim real)
RETURNS bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    k memory.episodes;
    m memory.episodes;
    keeps_a boolean;
    keeps_b boolean;
    jobs_all integer;
    jobs_locked integer;
    added text [];
    added_meta jsonb;
    id bigint;
BEGIN
    -- an episode that keeps others stays the keeper: groups stay one level deep
    keeps_a := EXISTS (SELECT 1 FROM memory.consolidations AS x WHERE x.kept_id = a AND x.undone_at IS NULL);
    keeps_b := EXISTS (SELECT 1 FROM memory.consolidations AS x WHERE x.kept_id = b AND x.undone_at IS NULL);
    IF keeps_a AND keeps_b THEN
        RETURN NULL;
    END IF;
    SELECT e.* INTO k FROM memory.episodes AS e
    WHERE e.episode_id IN (a, b) AND e.agent_id = agent
    ORDER BY (e.episode_id = a AND keeps_a) OR (e.episode_id = b AND keeps_b) DESC,
             e.importance DESC, e.access_count DESC, e.recorded_at, e.episode_id
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO jobs_all FROM memory.embedding_jobs AS j
    WHERE j.episode_id = CASE WHEN k.episode_id = a THEN b ELSE a END;
    SELECT count(*) INTO jobs_locked FROM (
        SELECT 1 FROM memory.embedding_jobs AS j
        WHERE j.episode_id = CASE WHEN k.episode_id = a THEN b ELSE a END AND j.agent_id = agent
        ORDER BY j.job_id
        FOR UPDATE SKIP LOCKED
    ) AS l;
    IF jobs_locked < jobs_all THEN
        RETURN -1;
    END IF;
    SELECT e.* INTO k FROM memory.episodes AS e
    WHERE e.episode_id = k.episode_id AND e.agent_id = agent
    FOR NO KEY UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;
    SELECT e.* INTO m FROM memory.episodes AS e
    WHERE e.episode_id = CASE WHEN k.episode_id = a THEN b ELSE a END AND e.agent_id = agent
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN -1;
    END IF;

    added := ARRAY(
        SELECT t.tag FROM unnest(m.tags) WITH ORDINALITY AS t (tag, i)
        WHERE t.tag <> ALL (k.tags)
        GROUP BY t.tag ORDER BY min(t.i)
        LIMIT greatest(0, 64 - cardinality(k.tags))
    );
    SELECT coalesce(jsonb_object_agg(j.key, j.value), '{}') INTO added_meta
    FROM jsonb_each(m.metadata) AS j WHERE NOT k.metadata ? j.key;

    INSERT INTO memory.consolidations (
        agent_id, merged_id, kept_id, cosine, text_similarity, merged_episode, added_tags, added_metadata,
        kept_importance_before, kept_importance_after
    )
    VALUES (
        agent, m.episode_id, k.episode_id, least(cosine, 1), text_sim,
        to_jsonb(m) - 'fts' - 'content_sha256', added, added_meta, k.importance, greatest(k.importance, m.importance)
    )
    RETURNING consolidation_id INTO id;
    UPDATE memory.episodes AS e
    SET tags = e.tags || added, metadata = e.metadata || added_meta,
        importance = greatest(e.importance, m.importance), updated_at = now()
    WHERE e.episode_id = k.episode_id;
    PERFORM memory._forget_episodes(agent, ARRAY[m.episode_id]);
    RETURN id;
END
$$;

COMMENT ON FUNCTION memory._merge_pair(uuid, uuid, uuid, real, real) IS
'Private (consolidation): merges two of the agent''s episodes: the keeper (one that already keeps others, else the most important, most used, oldest) gains the other''s missing tags (up to 64), missing metadata keys and higher importance; the other''s row goes to memory.consolidations and the episode is deleted with its chunks. Returns the consolidation id; NULL when the pair cannot be merged (both keep others, one is gone); -1 when another session holds one of the rows (or the merged one''s embedding jobs) now: try again later. Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory._consolidation_batch(
    agent uuid, batch_rows integer, min_cosine real, min_text real, min_age interval DEFAULT '1 hour',
    OUT examined integer, OUT merged integer, OUT busy boolean
)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    model smallint;
    cursor_at bigint;
    ids bigint [];
    gone uuid [] := '{}';
    r record;
    cid bigint;
BEGIN
    busy := false;
    examined := 0;
    merged := 0;
    SELECT m.model_id INTO model FROM memory.embedding_models AS m WHERE m.is_serving;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    INSERT INTO memory.consolidation_progress AS p (agent_id, model_id) VALUES (agent, model)
    ON CONFLICT (agent_id) DO NOTHING;
    SELECT CASE WHEN p.model_id = model THEN p.last_chunk_id ELSE 0 END INTO cursor_at
    FROM memory.consolidation_progress AS p WHERE p.agent_id = agent FOR UPDATE;
    ids := ARRAY(
        SELECT c.chunk_id FROM memory.chunks AS c
        WHERE c.agent_id = agent AND c.model_id = model AND c.episode_id IS NOT NULL AND c.chunk_id > cursor_at
          AND c.embedded_at <= now() - min_age
        ORDER BY c.chunk_id
        LIMIT batch_rows
    );
    examined := cardinality(ids);
    IF examined = 0 THEN
        RETURN;
    END IF;
    FOR r IN
        SELECT d.episode_a, d.episode_b, d.cosine, d.text_similarity
        FROM memory._duplicate_pairs(agent, ids, min_cosine, min_text, settled_before => now() - min_age) AS d
        ORDER BY d.cosine DESC, d.text_similarity DESC, d.episode_a, d.episode_b
    LOOP
        CONTINUE WHEN r.episode_a = ANY (gone) OR r.episode_b = ANY (gone);
        cid := memory._merge_pair(agent, r.episode_a, r.episode_b, r.cosine, r.text_similarity);
        busy := busy OR cid = -1;
        IF cid > 0 THEN
            merged := merged + 1;
            gone := gone || (SELECT x.merged_id FROM memory.consolidations AS x WHERE x.consolidation_id = cid);
        END IF;
    END LOOP;
    -- a pair skipped because a writer held it is looked at again by the next run: the
    -- cursor stays (the pairs merged meanwhile are gone, so the retry finds the rest)
    UPDATE memory.consolidation_progress AS p
    SET model_id = model, last_chunk_id = CASE WHEN busy THEN cursor_at ELSE ids[examined] END,
        batches = p.batches + 1,
        merged = p.merged + _consolidation_batch.merged, updated_at = now()
    WHERE p.agent_id = agent;
END
$$;

COMMENT ON FUNCTION memory._consolidation_batch(uuid, integer, real, real, interval) IS
'Private (memory-consolidation): the agent''s next batch_rows chunks of the serving model after its cursor (memory.consolidation_progress), embedded at least min_age ago, are compared with the agent''s other chunks of that age and every duplicate pair found is merged (memory._merge_pair), the best matches first; the cursor moves past the batch unless a pair was skipped because another session held its rows (then the next run reads the batch again). Returns the chunks examined, the merges, and busy (a pair was skipped so). Raises nothing of its own.';

CREATE OR REPLACE FUNCTION memory.run_consolidation(
    batch_rows integer DEFAULT 200, max_batches integer DEFAULT 20,
    min_cosine real DEFAULT 0.71, min_text real DEFAULT 0.70, min_age interval DEFAULT '1 hour'
)
RETURNS jsonb
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '200ms'
AS $$
DECLARE
    a uuid;
    r record;
    batches integer := 0;
    agents integer := 0;
    examined bigint := 0;
    merged bigint := 0;
BEGIN
    PERFORM memory._check_count('batch_rows', batch_rows, 1, 10000);
    PERFORM memory._check_count('max_batches', max_batches, 1, 100000);
    IF min_cosine IS NULL OR NOT min_cosine BETWEEN 0.5 AND 1 OR min_text IS NULL OR NOT min_text BETWEEN 0.3 AND 1 THEN
        RAISE EXCEPTION 'min_cosine must be between 0.5 and 1, min_text between 0.3 and 1'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'leave them out for the measured defaults';
    END IF;
    IF min_age IS NULL OR min_age < interval '0' OR NOT isfinite(now() - min_age) THEN
        RAISE EXCEPTION 'min_age must be a finite interval of 0 or more'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'leave it out for 1 hour';
    END IF;
    -- the agents the job looked at least recently first; one run at a time per agent
    -- (an advisory lock per agent, skipped when another run holds it)
    FOR a IN
        SELECT ag.agent_id FROM memory.agents AS ag
        LEFT JOIN memory.consolidation_progress AS p ON p.agent_id = ag.agent_id
        ORDER BY p.updated_at NULLS FIRST, ag.agent_id
    LOOP
        EXIT WHEN batches >= max_batches;
        CONTINUE WHEN NOT pg_catalog.pg_try_advisory_xact_lock(1129270862, pg_catalog.hashtext(a::text));
        agents := agents + 1;
        LOOP
            EXIT WHEN batches >= max_batches;
            BEGIN
                SELECT * INTO r FROM memory._consolidation_batch(a, batch_rows, min_cosine, min_text, min_age);
            EXCEPTION WHEN lock_not_available THEN
                -- the agent is writing those rows now: undone, skipped until the next run
                EXIT;
            END;
            EXIT WHEN r.examined = 0;
            batches := batches + 1;
            examined := examined + r.examined;
            merged := merged + r.merged;
            EXIT WHEN r.examined < batch_rows OR r.busy;
        END LOOP;
    END LOOP;
    RETURN jsonb_build_object('agents', agents, 'batches', batches, 'chunks_examined', examined, 'merged', merged);
END
$$;

COMMENT ON FUNCTION memory.run_consolidation(integer, integer, real, real, interval) IS
'Operators and pg_cron (memory-consolidation): merges near-duplicate episodes of each agent (cosine of best chunks >= min_cosine and text similarity >= min_text, thresholds measured in docs/decisions.md; only chunks embedded at least min_age ago, so fresh writes are left alone), reading each agent''s new chunks in batches of batch_rows, at most max_batches batches per call (the next run goes on). Each merge is recorded in memory.consolidations and can be undone (memory.undo_consolidation). Returns {agents, batches, chunks_examined, merged}. Raises 22023 (batch_rows outside 1..10000, max_batches outside 1..100000, min_cosine outside 0.5..1, min_text outside 0.3..1, min_age negative, NULL or infinite).';

CREATE OR REPLACE FUNCTION memory.undo_consolidation(consolidation_id bigint)
RETURNS uuid
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    c memory.consolidations;
    r memory.episodes;
BEGIN
    IF consolidation_id IS NULL THEN
        RAISE EXCEPTION 'consolidation_id must not be NULL'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'SELECT consolidation_id FROM memory.consolidations';
    END IF;
    SELECT * INTO c FROM memory.consolidations AS x
    WHERE x.consolidation_id = undo_consolidation.consolidation_id AND x.agent_id = me
    FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'consolidation not found'
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('no consolidation %s in this agent''s memory', undo_consolidation.consolidation_id),
                  HINT = 'forgetting the kept episode forgets its merged copies with their consolidations';
    END IF;
    IF c.undone_at IS NOT NULL THEN
        RAISE EXCEPTION 'consolidation already undone'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('consolidation %s was undone at %s; episode %s is back', c.consolidation_id,
                                  c.undone_at, c.merged_id);
    END IF;
    -- the kept episode loses what this merge gave it, where it still holds it as given
    -- (a tag another live copy of the group also carries stays)
    UPDATE memory.episodes AS e
    SET tags = ARRAY(
            SELECT t.tag FROM unnest(e.tags) WITH ORDINALITY AS t (tag, i)
            WHERE t.tag <> ALL (c.added_tags) OR EXISTS (
                SELECT 1 FROM memory.consolidations AS o
                WHERE o.kept_id = c.kept_id AND o.undone_at IS NULL AND o.consolidation_id <> c.consolidation_id
                  AND o.merged_episode -> 'tags' ? t.tag)
            ORDER BY t.i),
        metadata = e.metadata - ARRAY(
            SELECT j.key FROM jsonb_each(c.added_metadata) AS j WHERE e.metadata -> j.key = j.value),
        importance = CASE WHEN e.importance = c.kept_importance_after THEN c.kept_importance_before
                          ELSE e.importance END,
        updated_at = now()
    WHERE e.episode_id = c.kept_id AND e.agent_id = me;
    r := jsonb_populate_record(NULL::memory.episodes, c.merged_episode);
    INSERT INTO memory.episodes (
        episode_id, agent_id, content, importance, tags, project_id, session_id, occurred_at, metadata,
        recorded_at, updated_at, access_count, last_accessed_at
    )
    VALUES (
        r.episode_id, me, r.content, r.importance, r.tags,
        (SELECT p.project_id FROM memory.projects AS p WHERE p.project_id = r.project_id AND p.agent_id = me),
        r.session_id, r.occurred_at, r.metadata, r.recorded_at, r.updated_at, r.access_count, r.last_accessed_at
    );
    UPDATE memory.consolidations AS x
    SET undone_at = now(), undone_by = session_user, merged_episode = NULL
    WHERE x.consolidation_id = c.consolidation_id;
    RETURN r.episode_id;
END
$$;

COMMENT ON FUNCTION memory.undo_consolidation(bigint) IS
'Undoes one of the current agent''s merges: the merged episode comes back exactly as it was (same id, text, tags, metadata, times, access count; re-embedded by the daemon) and the kept one loses the tags, metadata keys and importance the merge gave it (where unchanged since). The row stays in memory.consolidations with undone_at, and the job does not merge that pair again. Returns the restored episode''s id. Raises 42501 (not an agent), 22023 (NULL), P0002 (no such consolidation of this agent), 55000 (already undone), and the quota errors of remember().';

CREATE OR REPLACE FUNCTION memory.resolve_episode(episode_id uuid)
RETURNS uuid
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    found uuid;
BEGIN
    IF episode_id IS NULL THEN
        RAISE EXCEPTION 'episode_id must not be NULL' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT e.episode_id INTO found FROM memory.episodes AS e
    WHERE e.episode_id = resolve_episode.episode_id AND e.agent_id = me;
    IF found IS NULL THEN
        SELECT x.kept_id INTO found FROM memory.consolidations AS x
        WHERE x.merged_id = resolve_episode.episode_id AND x.agent_id = me AND x.undone_at IS NULL;
    END IF;
    RETURN found;
END
$$;

COMMENT ON FUNCTION memory.resolve_episode(uuid) IS
'The current agent''s episode an id stands for: the id itself when it is an episode of the agent, the kept episode when it was merged by consolidation, else NULL (no such episode of this agent, or forgotten). Raises 42501 (not an agent), 22023 (NULL).';

-- Private: P0002 for an id that is not one of the agent's episodes, saying what became
-- of it when consolidation merged it (forget_episode, update_episode).
CREATE OR REPLACE FUNCTION memory._raise_episode_not_found(episode_id uuid, me uuid, hint text)
RETURNS void
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    c record;
BEGIN
    SELECT x.consolidation_id, x.kept_id INTO c FROM memory.consolidations AS x
    WHERE x.merged_id = _raise_episode_not_found.episode_id AND x.agent_id = me AND x.undone_at IS NULL;
    IF FOUND THEN
        RAISE EXCEPTION 'episode was merged into another by consolidation'
            USING ERRCODE = 'no_data_found',
                  DETAIL = format('episode %s was merged into episode %s (consolidation %s)',
                                  episode_id, c.kept_id, c.consolidation_id),
                  HINT = format('use episode %s, or memory.undo_consolidation(%s) to bring it back',
                                c.kept_id, c.consolidation_id);
    END IF;
    RAISE EXCEPTION 'episode not found'
        USING ERRCODE = 'no_data_found',
              DETAIL = format('no episode %s in this agent''s memory', episode_id), HINT = hint;
END
$$;

COMMENT ON FUNCTION memory._raise_episode_not_found(uuid, uuid, text) IS
'Private: always raises P0002: "episode was merged into another by consolidation" naming the kept episode and the consolidation when agent me''s episode_id was merged, else "episode not found" with hint. Returns nothing.';

-- Export (140-export-import.sql): the agent's episodes and, as the episodes they were,
-- the copies consolidation merged (live merges). The merge itself is not exported: after
-- an import the copies are episodes again and the importing side's job merges them anew.
CREATE OR REPLACE FUNCTION memory._export_episodes(agent uuid)
RETURNS SETOF memory.episodes
LANGUAGE sql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.* FROM memory.episodes AS e WHERE e.agent_id = agent
    UNION ALL
    SELECT r.episode_id, r.agent_id, r.content, r.importance, r.tags, r.project_id, r.session_id, r.occurred_at,
           r.metadata, r.recorded_at, r.updated_at, r.access_count, r.last_accessed_at,
           memory._sha256(r.content), NULL::tsvector
    FROM memory.consolidations AS x
    CROSS JOIN LATERAL jsonb_populate_record(NULL::memory.episodes, x.merged_episode) AS r
    WHERE x.agent_id = agent AND x.undone_at IS NULL
$$;

COMMENT ON FUNCTION memory._export_episodes(uuid) IS
'Private (export_agent): the agent''s episodes and the copies consolidation merged (live merges, as the episodes they were, fts left NULL). Raises nothing.';

CREATE OR REPLACE FUNCTION memory.list_consolidations(k integer DEFAULT 20)
RETURNS TABLE (
    consolidation_id bigint,
    kept_id uuid,
    merged_id uuid,
    merged_content text,
    cosine real,
    text_similarity real,
    added_tags text [],
    consolidated_at timestamptz,
    undone_at timestamptz
)
LANGUAGE plpgsql
STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
BEGIN
    PERFORM memory._check_count('k', k, 1, 1000);
    RETURN QUERY
    SELECT x.consolidation_id, x.kept_id, x.merged_id, x.merged_episode ->> 'content', x.cosine,
           x.text_similarity, x.added_tags, x.consolidated_at, x.undone_at
    FROM memory.consolidations AS x
    WHERE x.agent_id = me
    ORDER BY x.consolidated_at DESC, x.consolidation_id DESC
    LIMIT k;
END
$$;

COMMENT ON FUNCTION memory.list_consolidations(integer) IS
'The current agent''s near-duplicate merges, newest first, at most k (1..1000, default 20): the kept and the merged episode''s ids, the merged copy''s text (NULL once undone: the episode is back), the similarities, the tags the kept one gained, when merged and when undone. memory.undo_consolidation(consolidation_id) undoes one. Raises 42501 (not an agent), 22023 (k NULL or outside 1..1000).';
