-- build_context: what an LLM prompt needs, within a token budget.
SET ROLE memory_owner;

-- The token estimate used everywhere: one token per 4 characters (rounded up), plus 4
-- tokens of framing per item (its label, separators, a line break). That is the usual
-- rule of thumb for English with GPT-style tokenizers; Spanish and code run a little
-- denser, which the per-item framing absorbs for short items. Callers who need exact
-- counts should leave a margin in token_budget.
CREATE OR REPLACE FUNCTION memory.estimate_tokens(content text)
RETURNS integer
LANGUAGE sql
IMMUTABLE
PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT 4 + ceil(coalesce(char_length(content), 0) / 4.0)::integer
$$;

COMMENT ON FUNCTION memory.estimate_tokens(text) IS
'Token estimate of one context item: ceil(characters / 4) + 4 for its framing. build_context keeps the sum of these within its budget.';

CREATE OR REPLACE FUNCTION memory.build_context(
    query text,
    token_budget integer DEFAULT 2000,
    max_working_items integer DEFAULT 7,
    candidates integer DEFAULT 20
)
RETURNS jsonb
LANGUAGE plpgsql
SET search_path = pg_catalog, public, pg_temp
AS $$
DECLARE
    me uuid := memory._require_agent();
    -- 24 tokens are set aside for the four section headings of render_context, so the
    -- rendered text stays within the budget too.
    used integer := 24;
    cost integer;
    blocks jsonb := '[]';
    working jsonb := '[]';
    episodes jsonb := '[]';
    facts jsonb := '[]';
    omitted jsonb := '{"blocks": 0, "working_memory": 0, "episodes": 0, "facts": 0}';
    degraded boolean := false;
    r record;
BEGIN
    IF token_budget IS NULL OR token_budget < 1 OR token_budget > 1000000 THEN
        RAISE EXCEPTION 'token_budget must be between 1 and 1,000,000'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'pass the number of prompt tokens the context may use, e.g. 2000';
    END IF;
    IF max_working_items IS NULL OR max_working_items NOT BETWEEN 0 AND 100
       OR candidates IS NULL OR candidates NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION 'max_working_items must be 0..100 and candidates 1..200'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;

    -- 1. Core blocks: who the agent is comes first, in label order.
    FOR r IN SELECT b.label, b.value FROM memory.get_blocks() AS b ORDER BY b.label COLLATE "C" LOOP
        cost := memory.estimate_tokens(r.label || ': ' || r.value);
        IF used + cost <= token_budget THEN
            blocks := blocks || jsonb_build_object('label', r.label, 'value', r.value, 'tokens', cost);
            used := used + cost;
        ELSE
            omitted := jsonb_set(omitted, '{blocks}', to_jsonb((omitted ->> 'blocks')::integer + 1));
        END IF;
    END LOOP;

    -- 2. Working memory: at most max_working_items live items, most important first.
    FOR r IN
        SELECT w.working_id, w.context_type, w.key, w.content, w.priority
        FROM memory.get_working_memory() AS w
        LIMIT max_working_items
    LOOP
        cost := memory.estimate_tokens(r.context_type || ': ' || r.content::text);
        IF used + cost <= token_budget THEN
            working := working || jsonb_build_object(
                'working_id', r.working_id, 'context_type', r.context_type, 'key', r.key,
                'content', r.content, 'priority', r.priority, 'tokens', cost);
            used := used + cost;
        ELSE
            omitted := jsonb_set(omitted, '{working_memory}', to_jsonb((omitted ->> 'working_memory')::integer + 1));
        END IF;
    END LOOP;

    -- 3. The best episodes and facts for the query, interleaved by score.
    IF query IS NOT NULL AND query ~ '\S' THEN
        FOR r IN
            WITH ep AS (
                SELECT 'episode' AS kind, s.episode_id AS id, s.content AS body, s.score,
                       s.occurred_at AS at, s.vector_score IS NULL AS text_only
                FROM memory.search_episodic_memory(query, k => candidates) AS s
            ),
            fa AS (
                SELECT 'fact' AS kind, f.fact_id AS id, f.concept || ': ' || f.statement AS body, f.score,
                       f.valid_from AS at, false AS text_only
                FROM memory.search_semantic_memory(query, k => candidates) AS f
            )
            SELECT * FROM ep UNION ALL SELECT * FROM fa
            ORDER BY score DESC, at DESC
        LOOP
            degraded := degraded OR r.text_only;
            cost := memory.estimate_tokens(r.body);
            IF used + cost > token_budget THEN
                omitted := jsonb_set(omitted, ARRAY[r.kind || 's'], to_jsonb((omitted ->> (r.kind || 's'))::integer + 1));
                CONTINUE;
            END IF;
            used := used + cost;
            IF r.kind = 'episode' THEN
                episodes := episodes || jsonb_build_object(
                    'episode_id', r.id, 'content', r.body, 'occurred_at', r.at, 'score', r.score, 'tokens', cost);
            ELSE
                facts := facts || jsonb_build_object(
                    'fact_id', r.id, 'statement', r.body, 'valid_from', r.at, 'score', r.score, 'tokens', cost);
            END IF;
        END LOOP;
    END IF;

    RETURN jsonb_build_object(
        'blocks', blocks,
        'working_memory', working,
        'episodes', episodes,
        'facts', facts,
        'token_estimate', CASE WHEN used = 24 THEN 0 ELSE used END,
        'token_budget', token_budget,
        'omitted', omitted,
        'search_degraded', degraded
    );
END
$$;

COMMENT ON FUNCTION memory.build_context(text, integer, integer, integer) IS
'Assembles the context of an LLM prompt for the current agent as jsonb with keys blocks (core memory, label order), working_memory (up to max_working_items live items, most important first), episodes and facts (the best candidates of search_episodic_memory and search_semantic_memory for query, interleaved by score), token_estimate (sum of memory.estimate_tokens of the items plus 24 for headings, never above token_budget, an upper bound of the estimate of the rendered text), omitted (items left out for the budget) and search_degraded (true when vector search was unavailable). Whole items only: nothing is cut. Raises 42501, 22023 (budget or limits out of range), 22001 (a query over 10,000 characters, as the searches).';

CREATE OR REPLACE FUNCTION memory.render_context(context jsonb)
RETURNS text
LANGUAGE plpgsql
IMMUTABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    bad text;
BEGIN
    SELECT s.k INTO bad
    FROM unnest(ARRAY['blocks', 'working_memory', 'facts', 'episodes']) AS s (k)
    WHERE jsonb_typeof(context) = 'object' AND context ? s.k AND jsonb_typeof(context -> s.k) <> 'array'
    LIMIT 1;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'context section % must be a JSON array', bad
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = format('got a JSON %s', jsonb_typeof(context -> bad)),
                  HINT = 'pass the jsonb that memory.build_context() returns';
    END IF;
    RETURN concat_ws(
        E'\n\n',
        CASE WHEN jsonb_array_length(context -> 'blocks') > 0 THEN
            E'## Core memory\n' || (
                SELECT string_agg(format('[%s] %s', b ->> 'label', b ->> 'value'), E'\n' ORDER BY ord)
                FROM jsonb_array_elements(context -> 'blocks') WITH ORDINALITY AS x (b, ord))
        END,
        CASE WHEN jsonb_array_length(context -> 'working_memory') > 0 THEN
            E'## Working memory\n' || (
                SELECT string_agg(format('- (%s, %s) %s', w ->> 'context_type', w ->> 'priority', w -> 'content'), E'\n' ORDER BY ord)
                FROM jsonb_array_elements(context -> 'working_memory') WITH ORDINALITY AS x (w, ord))
        END,
        CASE WHEN jsonb_array_length(context -> 'facts') > 0 THEN
            E'## Known facts\n' || (
                SELECT string_agg(format('- %s', f ->> 'statement'), E'\n' ORDER BY ord)
                FROM jsonb_array_elements(context -> 'facts') WITH ORDINALITY AS x (f, ord))
        END,
        CASE WHEN jsonb_array_length(context -> 'episodes') > 0 THEN
            E'## Relevant episodes\n' || (
                SELECT string_agg(format('- [%s] %s', left(e ->> 'occurred_at', 10), e ->> 'content'), E'\n' ORDER BY ord)
                FROM jsonb_array_elements(context -> 'episodes') WITH ORDINALITY AS x (e, ord))
        END
    );
END
$$;

COMMENT ON FUNCTION memory.render_context(jsonb) IS
'Renders the jsonb of build_context as prompt text with sections Core memory, Working memory, Known facts, Relevant episodes (a missing section is left out). Raises 22023 when a section (blocks, working_memory, facts, episodes) is there but not a JSON array.';

CREATE OR REPLACE FUNCTION memory.build_context_text(query text, token_budget integer DEFAULT 2000)
RETURNS text
LANGUAGE sql
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT memory.render_context(memory.build_context(query, token_budget))
$$;

COMMENT ON FUNCTION memory.build_context_text(text, integer) IS
'build_context rendered as prompt text (render_context). Raises what build_context raises.';
