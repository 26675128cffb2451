-- memory.health(): one key per layer, each with its own status, and an overall
-- status (the worst of the layers). Each layer's details come from a private
-- function of its area (embedding: memory._health_embedding() in 040-embedding.sql);
-- a new layer adds its key here.
SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.health()
RETURNS jsonb
LANGUAGE plpgsql
STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    layers jsonb := jsonb_build_object(
        'embedding', memory._health_embedding()
    );
    worst text;
BEGIN
    SELECT CASE max(CASE l.value ->> 'status' WHEN 'ok' THEN 0 WHEN 'degraded' THEN 1 ELSE 2 END)
        WHEN 0 THEN 'ok' WHEN 1 THEN 'degraded' ELSE 'failing' END
    INTO worst
    FROM jsonb_each(layers) AS l;
    RETURN jsonb_build_object('status', coalesce(worst, 'ok'), 'checked_at', now()) || layers;
END
$$;

COMMENT ON FUNCTION memory.health() IS
'Operators: the state of the memory as JSON, one key per layer (embedding: coverage per model, queue depth by state, oldest pending age, dead jobs with their errors, daemon heartbeats), each with a status ok, degraded or failing, and the overall status, the worst of them.';
