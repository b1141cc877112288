const orig = globalThis.setTimeout;
globalThis.setTimeout = function (fn, ms, ...a) { if (ms >= 1000) console.log('setTimeout', ms, new Error().stack.split('\n').slice(2,5).join(' | ')); return orig(fn, ms, ...a); };
const { openQueue, parseQueueUrl } = await import('./dist/src/study/queue.js');
try { await openQueue(parseQueueUrl(process.argv[2])); } catch (e) { console.log('err', e.message); }
