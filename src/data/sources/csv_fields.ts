/** Where the field scanner is, as in tf.data's CSVDataset.parseRow. */
enum Scan {
  /** Before a field. */
  Out,
  /** Inside an unquoted field. */
  Field,
  /** Inside a quoted field. */
  Quote,
  /** Just after a quote inside a quoted field: the field ends here, or `""` continues it. */
  QuoteAfterQuote,
  /** Text after a closing quote (`"ab"cd`): everything up to the next quote belongs to the field. */
  WithinQuoteInQuote,
}

const QUOTE = '"';

/**
 * Split one CSV line into raw fields exactly as tf.data's `CSVDataset` does (a port of its `parseRow` state machine),
 * so a file parses to the same elements with either import: a quote opens a field only at its start; a quoted field
 * keeps `""` as two characters (tf.data does not unescape it) and drops only its outer quotes; a quote inside an
 * unquoted field is literal. With `delimWhitespace`, runs of spaces count as one delimiter. Unlike tf.data (which
 * compares one character), a delimiter may be several characters long.
 */
export function splitCsvLine(line: string, delimiter: string, delimWhitespace = false): string[] {
  const out: string[] = [];
  let start = 0;
  let state = Scan.Out;
  for (let i = 0; i < line.length; i++) {
    const isDelimiter = line.startsWith(delimiter, i);
    const ch = line[i];
    switch (state) {
      case Scan.Out:
        if (ch === QUOTE) {
          start = i + 1;
          state = Scan.Quote;
        } else if (isDelimiter) {
          i += delimiter.length - 1;
          start = i + 1;
          if (!delimWhitespace) out.push('');
        } else {
          start = i;
          state = Scan.Field;
        }
        break;
      case Scan.Field:
        if (isDelimiter) {
          out.push(line.substring(start, i));
          i += delimiter.length - 1;
          start = i + 1;
          state = Scan.Out;
        }
        break;
      case Scan.Quote:
        if (ch === QUOTE) state = Scan.QuoteAfterQuote;
        break;
      case Scan.QuoteAfterQuote:
        if (isDelimiter) {
          out.push(line.substring(start, i - 1));
          i += delimiter.length - 1;
          start = i + 1;
          state = Scan.Out;
        } else if (ch === QUOTE) state = Scan.Quote;
        else state = Scan.WithinQuoteInQuote;
        break;
      case Scan.WithinQuoteInQuote:
        if (ch === QUOTE) state = Scan.Quote;
        break;
    }
  }
  out.push(state === Scan.QuoteAfterQuote ? line.substring(start, line.length - 1) : line.substring(start));
  return out;
}
