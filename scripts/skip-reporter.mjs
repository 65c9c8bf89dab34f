// A node:test reporter that writes one JSON line per skipped test ({file, name, reason}) and per
// peer comparison left out (a diagnostic from test/helpers/peers.ts peerNotCompared), for
// scripts/run-tests.mjs to list at the end of a run.
const NOT_COMPARED = 'peer comparison left out: ';

export default async function* skipReporter(source) {
  for await (const event of source) {
    const { data } = event;
    if (event.type === 'test:diagnostic' && data.message.startsWith(NOT_COMPARED)) {
      const reason = data.message.slice(NOT_COMPARED.length);
      yield `${JSON.stringify({ file: data.file, name: '(comparison)', reason, partial: true })}\n`;
    }
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    if (data.skip === undefined || data.skip === false) continue;
    const reason = data.skip === true ? '' : String(data.skip);
    yield `${JSON.stringify({ file: data.file, name: data.name, reason })}\n`;
  }
}
