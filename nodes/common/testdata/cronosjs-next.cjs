// Prints Go table rows: cronosjs 1.7.1's next four times for each case.
const {CronosExpression} = require(process.env.CRONOS);
const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
for (const [tz, from, expr] of cases) {
  process.env.TZ = tz;
  let want;
  try { want = CronosExpression.parse(expr).nextNDates(new Date(from), 4).map(d => d.toISOString().replace('.000Z', 'Z')); }
  catch (e) { want = ['ERR']; }
  console.log(JSON.stringify([tz, from, expr, want]));
}
