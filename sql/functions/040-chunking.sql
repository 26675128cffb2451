-- Chunking: how an episode's or fact's text is split before embedding (the embed
-- daemon embeds the chunks that memory.claim_embedding_batch returns).

-- plpython3u functions need a superuser; they are SECURITY INVOKER and granted only to
-- the roles whose functions call them (sql/functions/999-grants.sql).
RESET ROLE;

CREATE OR REPLACE FUNCTION memory._split_text(content text, chunk_tokens integer, overlap_tokens integer)
RETURNS TABLE (chunk_index integer, char_start integer, char_end integer, chunk_text text)
LANGUAGE plpython3u
IMMUTABLE
STRICT
PARALLEL SAFE
ROWS 4
SET search_path = pg_catalog, pg_temp
AS $py$
# memory.chunk_text() checks first with its own messages; this guards direct calls
if chunk_tokens < 8 or overlap_tokens < 0 or overlap_tokens > chunk_tokens // 2:
    plpy.error(
        "chunk_tokens must be at least 8 and overlap_tokens between 0 and half of it",
        sqlstate="22023",
    )
split = SD.get("split")
if split is None:
    import bisect
    import re

    word_re = re.compile(r"[^\W\d_]+|\d+|\S")
    seps = (
        re.compile(r"\n[ \t\r\f\v]*\n\s*"),          # paragraphs
        re.compile(r"\n\s*"),                         # lines
        re.compile(r"(?<=[.!?\u2026\u3002\uff01\uff1f])[\"'\u201d\u2019)\]]*\s+"),  # sentences
        re.compile(r"\s+"),                           # words
    )

    def cost(w):
        # estimated word pieces of one word (calibrated against BERT's uncased
        # vocabulary on English, Spanish, code and markdown: rarely under)
        n = len(w)
        if n == 1:
            return 1.0
        if w.isdigit():
            return float((n + 1) // 2)
        if w.isascii():
            return 1.0 + max(0, n - 3) / 3.0
        if any(ord(c) >= 0x2E80 for c in w):
            return float(n)
        return 1.0 + (n - 1) / 2.0

    def split(text, budget, overlap):
        starts = []
        cum = [0.0]
        for m in word_re.finditer(text):
            starts.append(m.start())
            cum.append(cum[-1] + cost(m.group()))

        def est(s, e):
            return cum[bisect.bisect_left(starts, e)] - cum[bisect.bisect_left(starts, s)]

        pieces = []

        def rec(s, e, level):
            # Paragraphs, lines and sentences are always separated (so that neighbours
            # can overlap by a sentence or two); words and characters only when a
            # sentence alone is over the budget.
            t = est(s, e)
            if t <= budget and level >= 3:
                pieces.append((s, e, t))
                return
            if level == len(seps):
                # no separator left: windows of `budget` characters (a character is
                # at most one word piece)
                for p in range(s, e, budget):
                    q = min(e, p + budget)
                    pieces.append((p, q, float(q - p)))
                return
            pos = s
            for m in seps[level].finditer(text, s, e):
                cut = m.end()
                if pos < cut < e:
                    rec(pos, cut, level + 1)
                    pos = cut
            rec(pos, e, level + 1)

        if est(0, len(text)) <= budget:
            return [(0, len(text))]
        rec(0, len(text), 0)
        chunks = []
        cur = []
        total = 0.0
        for p in pieces:
            if cur and total + p[2] > budget:
                chunks.append((cur[0][0], cur[-1][1]))
                while cur and (total > overlap or total + p[2] > budget):
                    total -= cur.pop(0)[2]
                if not cur:
                    total = 0.0
            cur.append(p)
            total += p[2]
        if cur:
            chunks.append((cur[0][0], cur[-1][1]))
        return chunks

    SD["split"] = split

return [(i, s, e, content[s:e]) for i, (s, e) in enumerate(split(content, chunk_tokens, overlap_tokens))]
$py$;

COMMENT ON FUNCTION memory._split_text(text, integer, integer) IS
'Private: the splitter behind memory.chunk_text(), which checks its arguments with its own messages; raises 22023 for bad sizes when called directly.';

SET ROLE memory_owner;

CREATE OR REPLACE FUNCTION memory.chunk_text(content text, chunk_tokens integer DEFAULT 200, overlap_tokens integer DEFAULT 32)
RETURNS TABLE (chunk_index integer, char_start integer, char_end integer, chunk_text text)
LANGUAGE plpgsql
IMMUTABLE
STRICT
PARALLEL SAFE
ROWS 4
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF chunk_tokens < 8 THEN
        RAISE EXCEPTION 'chunk_tokens must be at least 8'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'the model''s window in word pieces, less a margin';
    END IF;
    -- chunk_tokens / 2, not overlap_tokens * 2: the product overflows an integer (22003)
    IF overlap_tokens < 0 OR overlap_tokens > chunk_tokens / 2 THEN
        RAISE EXCEPTION 'overlap_tokens must be between 0 and half of chunk_tokens'
            USING ERRCODE = 'invalid_parameter_value', HINT = 'a sentence or two: 32 for chunks of 200';
    END IF;
    RETURN QUERY SELECT s.chunk_index, s.char_start, s.char_end, s.chunk_text
    FROM memory._split_text(content, chunk_tokens, overlap_tokens) AS s;
END
$$;

COMMENT ON FUNCTION memory.chunk_text(text, integer, integer) IS
'Splits a text for embedding. A text within chunk_tokens estimated word pieces is one chunk; a longer one is split at paragraphs, lines and sentences (words, then characters, only inside an over-long sentence) and the pieces are packed into chunks of at most chunk_tokens, neighbours sharing up to overlap_tokens. Pure Python (plpython3u), no model. Spans are 0-based character offsets [char_start, char_end); every character is in at least one chunk, nothing is dropped. Raises 22023 for bad sizes.';
