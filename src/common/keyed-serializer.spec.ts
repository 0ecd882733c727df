import { KeyedSerializer } from './keyed-serializer';

const tick = () => new Promise((resolve) => setImmediate(resolve));

describe('KeyedSerializer', () => {
  it('runs the tasks of one key one after another, those of other keys alongside', async () => {
    const serializer = new KeyedSerializer();
    const log: string[] = [];
    const task = (name: string) => async () => {
      log.push(`${name} start`);
      await tick();
      await tick();
      log.push(`${name} end`);
      return name;
    };
    const results = await Promise.all([
      serializer.run('a', task('a1')),
      serializer.run('a', task('a2')),
      serializer.run('b', task('b1')),
    ]);
    expect(results).toEqual(['a1', 'a2', 'b1']);
    expect(log.indexOf('a1 end')).toBeLessThan(log.indexOf('a2 start'));
    expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
    await tick();
    expect(serializer.size).toBe(0);
  });

  it('runs the next task after one that failed, and hands each its own outcome', async () => {
    const serializer = new KeyedSerializer();
    const failed = serializer.run('k', async () => {
      throw new Error('first');
    });
    const next = serializer.run('k', async () => 'second');
    await expect(failed).rejects.toThrow('first');
    await expect(next).resolves.toBe('second');
  });
});
