-- memory.chunk_text: the recursive splitter of the embedding pipeline. Every character
-- of a text is in at least one chunk, spans are exact, nothing is truncated.
BEGIN;
SELECT plan(21);

-- What is wrong with the chunks of a text (an empty array when nothing is).
CREATE FUNCTION pg_temp.chunk_problems(t text, size integer DEFAULT 200, overlap integer DEFAULT 32)
RETURNS text []
LANGUAGE sql
AS $$
    WITH c AS (SELECT * FROM memory.chunk_text(t, size, overlap)),
    problems AS (
        SELECT 'first chunk does not start at 0' AS p WHERE (SELECT min(char_start) FROM c) <> 0
        UNION ALL
        SELECT 'last chunk does not end at the end' WHERE (SELECT max(char_end) FROM c) <> char_length(t)
        UNION ALL
        SELECT format('gap or disorder before chunk %s', c2.chunk_index)
        FROM c AS c1 JOIN c AS c2 ON c2.chunk_index = c1.chunk_index + 1
        WHERE c2.char_start > c1.char_end OR c2.char_start <= c1.char_start OR c2.char_end <= c1.char_end
        UNION ALL
        SELECT format('chunk %s is not the text of its span', chunk_index)
        FROM c WHERE chunk_text IS DISTINCT FROM substr(t, char_start + 1, char_end - char_start)
        UNION ALL
        SELECT 'chunk indexes are not 0..n-1'
        WHERE (SELECT count(*) FROM c) <> (SELECT max(chunk_index) + 1 FROM c)
    )
    SELECT coalesce(array_agg(p ORDER BY p), '{}') FROM problems
$$;

-- Prose of about 200,000 characters: paragraphs of sentences of varied words.
CREATE TEMP TABLE prose AS
SELECT string_agg(
    format('Paragraph %s. ', p) || (
        SELECT string_agg(
            format('The %s of sentence %s mentions item-%s and a longer word like extraordinarily%s.',
                   (ARRAY['design', 'failure', 'decision', 'review', 'memory'])[1 + (p * 7 + s) % 5], s, p * 100 + s,
                   CASE WHEN s % 3 = 0 THEN '!' ELSE '' END),
            ' ')
        FROM generate_series(1, 1 + p % 9) AS s
    ),
    E'\n\n'
) AS t
FROM generate_series(1, 1700) AS p;

SELECT cmp_ok(char_length((SELECT t FROM prose)), '>=', 200000, 'the prose sample has at least 200,000 characters');
SELECT is(pg_temp.chunk_problems((SELECT t FROM prose)), '{}'::text [],
    'a 200,000-character text is covered by its chunks, every character, spans exact');
SELECT cmp_ok((SELECT count(*) FROM memory.chunk_text((SELECT t FROM prose))), '>', 200::bigint,
    'a long text is split into many chunks, not cut');
SELECT cmp_ok((SELECT max(char_end - char_start) FROM memory.chunk_text((SELECT t FROM prose))), '<=', 1200,
    'chunks of prose stay within the window (about 200 word pieces)');
SELECT ok(
    (SELECT bool_and(c2.char_start < c1.char_end)
     FROM memory.chunk_text((SELECT t FROM prose)) AS c1
     INNER JOIN memory.chunk_text((SELECT t FROM prose)) AS c2 ON c2.chunk_index = c1.chunk_index + 1),
    'neighbouring chunks of prose overlap'
);
SELECT is(
    (SELECT count(*) FROM memory.chunk_text((SELECT t FROM prose), 200, 0) AS c1
     INNER JOIN memory.chunk_text((SELECT t FROM prose), 200, 0) AS c2 ON c2.chunk_index = c1.chunk_index + 1
     WHERE c2.char_start <> c1.char_end),
    0::bigint,
    'without overlap, each chunk starts where the previous one ends'
);
SELECT ok(
    (SELECT bool_and(chunk_text ~ '\.\s*$' OR char_end = char_length((SELECT t FROM prose)))
     FROM memory.chunk_text((SELECT t FROM prose))),
    'prose is split at sentence ends'
);

SELECT is(
    ARRAY(SELECT row(chunk_index, char_start, char_end, chunk_text)::text FROM memory.chunk_text('Just one short memory.')),
    ARRAY[row(0, 0, 22, 'Just one short memory.')::text],
    'a short text is one chunk: the whole text'
);
SELECT is(pg_temp.chunk_problems(repeat('x', 10000)), '{}'::text [],
    'a text without any separator is covered in character windows');
SELECT cmp_ok((SELECT max(char_end - char_start) FROM memory.chunk_text(repeat('x', 10000), 200, 32)), '<=', 200,
    'character windows hold at most chunk_tokens characters');
SELECT is(
    pg_temp.chunk_problems(repeat('Ñandú corrió rápido por el jardín. 東京は大きい都市です。 😀 ', 400)),
    '{}'::text [],
    'accents, CJK and emoji: spans count characters, not bytes'
);
SELECT is(pg_temp.chunk_problems(E'  \n\n  ' || repeat(E'word \n', 3000) || E'\n\n\t  '), '{}'::text [],
    'leading, trailing and repeated whitespace are covered too');
SELECT is(pg_temp.chunk_problems(repeat(E'line one\nline two\n', 2000), 16, 8), '{}'::text [],
    'small chunks with maximal overlap still cover everything');
SELECT is(
    ARRAY(SELECT row(c.*)::text FROM memory.chunk_text((SELECT t FROM prose)) AS c),
    ARRAY(SELECT row(c.*)::text FROM memory.chunk_text((SELECT t FROM prose)) AS c),
    'chunking is deterministic'
);
SELECT is((SELECT count(*) FROM memory.chunk_text(NULL)), 0::bigint, 'NULL has no chunks');
SELECT throws_ok($$ SELECT * FROM memory.chunk_text('text', 4, 0) $$, '22023', 'chunk_tokens must be at least 8',
    'a chunk size below 8 is refused');
SELECT throws_ok($$ SELECT * FROM memory.chunk_text('text', 100, 51) $$, '22023',
    'overlap_tokens must be between 0 and half of chunk_tokens', 'an overlap above half the chunk is refused');
-- the private splitter guards itself too: a zero budget would loop in range() (38000)
SELECT throws_ok($$ SELECT * FROM memory._split_text('one two three', 0, 0) $$, '22023', NULL,
    'the private splitter refuses a chunk size of 0 with 22023');
SELECT throws_ok($$ SELECT * FROM memory._split_text('one two three', 100, -1) $$, '22023', NULL,
    'the private splitter refuses a negative overlap with 22023');
SELECT throws_ok($$ SELECT * FROM memory._split_text('one two three', 100, 51) $$, '22023', NULL,
    'the private splitter refuses an overlap above half the chunk with 22023');
SELECT ok(
    (SELECT provolatile = 'i' AND prolang = (SELECT oid FROM pg_language WHERE lanname = 'plpython3u')
     FROM pg_proc WHERE oid = 'memory._split_text(text, integer, integer)'::regprocedure),
    'the chunker is immutable plpython3u (pure Python, no model)'
);

SELECT * FROM finish();
ROLLBACK;
