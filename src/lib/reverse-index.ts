/**
 * Which owners point at a key, kept in step with what each owner points at: `set('a', ['x', 'y'])`
 * then `ownersOf('x')` is `['a']`; setting `a` again replaces its keys, `remove('a')` forgets it.
 */
export class ReverseIndex {
  private readonly byKey = new Map<string, Set<string>>();
  private readonly byOwner = new Map<string, readonly string[]>();

  set(owner: string, keys: readonly string[]): void {
    this.remove(owner);
    if (keys.length === 0) return;
    this.byOwner.set(owner, keys);
    for (const key of keys) {
      let owners = this.byKey.get(key);
      if (!owners) {
        owners = new Set();
        this.byKey.set(key, owners);
      }
      owners.add(owner);
    }
  }

  remove(owner: string): void {
    for (const key of this.byOwner.get(owner) ?? []) {
      const owners = this.byKey.get(key);
      owners?.delete(owner);
      if (owners?.size === 0) this.byKey.delete(key);
    }
    this.byOwner.delete(owner);
  }

  ownersOf(key: string): string[] {
    return [...(this.byKey.get(key) ?? [])];
  }

  /** How many keys some owner points at. */
  get size(): number {
    return this.byKey.size;
  }
}
