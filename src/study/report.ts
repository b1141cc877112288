export async function writeReport(_db: string, _out: string): Promise<{ html: string; figures: string[] }> {
  throw new Error('not yet');
}
