// The CSV dialect of csvLogger: RFC 4180 quoting (a field with the separator, a quote or a line break is quoted,
// quotes doubled), '\n' line ends, a header row.

/** Quotes `field` when it holds the separator, a quote or a line break. */
export function csvField(field: string, separator: string): string {
  return field.includes(separator) || /["\r\n]/.test(field) ? `"${field.replaceAll('"', '""')}"` : field;
}

/** One CSV line (no line end). */
export function csvLine(fields: readonly string[], separator: string): string {
  return fields.map((field) => csvField(field, separator)).join(separator);
}

/** Parses CSV text into rows of fields; a last line torn by a crash (an unclosed quote) is dropped. */
export function parseCsv(text: string, separator: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (text.startsWith(separator, i)) {
      row.push(field);
      field = '';
      i += separator.length - 1;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (!quoted && (field !== '' || row.length > 0)) rows.push([...row, field]);
  return rows;
}
