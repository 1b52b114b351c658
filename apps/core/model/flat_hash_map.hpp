#pragma once
// FlatHashMap: the Core's lookup tables keyed by the numbers that name a job run (the Harvester's
// expectations and settled placements, the archive's index). One array of entries, probed
// linearly from a key's home slot: an entry costs no allocation of its own (a node-based table
// allocates and frees one per key, on every job's path). The array doubles when it is 3/4 full;
// erasing shifts the later entries of the same probe run back (no tombstones), so lookups stay
// short however many keys come and go.
//
//   FlatHashMap<std::pair<JobId, std::uint64_t>, std::size_t, JobKeyHash> index;
//   index.insert({7, 0}, 42);                          // true: added
//   if (std::size_t* at = index.find({7, 0})) use(*at);
//   index.erase({7, 0});                               // true: it was there
//
// Not thread safe. A pointer find() returns holds until the next insert, assign or erase. Keys
// and values must move without throwing (growing moves every entry); an unused slot holds a
// default-constructed key and value.

#include <bit>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace core {

template <class Key, class Value, class Hash>
class FlatHashMap {
  static_assert(std::is_nothrow_move_constructible_v<Key> && std::is_nothrow_move_assignable_v<Key> &&
                std::is_nothrow_copy_assignable_v<Key>);
  static_assert(std::is_nothrow_move_constructible_v<Value> && std::is_nothrow_move_assignable_v<Value>);

 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  /// The value of `key`, or null.
  Value* find(const Key& key) noexcept {
    const std::size_t i = locate(key);
    return i == npos ? nullptr : &slots_[i].value;
  }
  const Value* find(const Key& key) const noexcept { return const_cast<FlatHashMap*>(this)->find(key); }
  bool contains(const Key& key) const noexcept { return find(key) != nullptr; }

  /// Adds `key` with `value` unless `key` is there (then nothing changes); returns true if
  /// added. Throws what growing the array or copying `value` throws, and the table is then as it
  /// was.
  template <class V>
  bool insert(const Key& key, V&& value) {
    if (locate(key) != npos) return false;
    add(key, std::forward<V>(value));
    return true;
  }

  /// Sets the value of `key`, adding it if it is not there. Throws as insert does; a throw while
  /// the value is assigned to a key that was there leaves that value as the assignment left it.
  template <class V>
  void insert_or_assign(const Key& key, V&& value) {
    if (const std::size_t i = locate(key); i != npos) {
      slots_[i].value = std::forward<V>(value);
      return;
    }
    add(key, std::forward<V>(value));
  }

  /// Removes `key`; returns true if it was there. The value it held is destroyed now (its slot
  /// gets a default-constructed one).
  bool erase(const Key& key) noexcept {
    std::size_t hole = locate(key);
    if (hole == npos) return false;
    // Backward shift: an entry further along the run moves into the hole when the hole lies
    // between its home and where it is now (cyclically), so that a lookup starting at its home
    // still meets it before an empty slot.
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t j = (hole + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
      const std::size_t from_home = (j - home(slots_[j].key)) & mask;
      if (from_home >= ((j - hole) & mask)) {
        slots_[hole].key = std::move(slots_[j].key);
        slots_[hole].value = std::move(slots_[j].value);
        hole = j;
      }
    }
    slots_[hole] = Slot{};
    --size_;
    return true;
  }

  /// Calls `f(key, value)` for every entry, in no particular order.
  template <class F>
  void for_each(F&& f) const {
    for (const Slot& s : slots_)
      if (s.used) f(s.key, s.value);
  }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };
  static constexpr std::size_t npos = ~std::size_t{0};

  // The slot a key's probe starts at: the top bits of its hash multiplied by 2^64 / the golden
  // ratio (Fibonacci hashing), so that a hash whose low bits vary little still spreads.
  std::size_t home(const Key& key) const noexcept {
    return static_cast<std::size_t>((static_cast<std::uint64_t>(Hash{}(key)) * 0x9e3779b97f4a7c15ULL) >> shift_);
  }

  std::size_t locate(const Key& key) const noexcept {
    if (size_ == 0) return npos;
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(key);; i = (i + 1) & mask) {
      if (!slots_[i].used) return npos;
      if (slots_[i].key == key) return i;
    }
  }

  template <class V>
  void add(const Key& key, V&& value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // may throw: nothing changed
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = home(key);
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i].value = std::forward<V>(value);  // may throw: the slot stays unused
    slots_[i].key = key;
    slots_[i].used = true;
    ++size_;
  }

  void grow() {
    const std::size_t capacity = slots_.empty() ? 16 : slots_.size() * 2;
    std::vector<Slot> bigger(capacity);  // may throw: nothing changed
    std::swap(slots_, bigger);
    shift_ = 64 - static_cast<unsigned>(std::countr_zero(capacity));
    const std::size_t mask = capacity - 1;
    for (Slot& s : bigger) {
      if (!s.used) continue;
      std::size_t i = home(s.key);
      while (slots_[i].used) i = (i + 1) & mask;
      slots_[i].key = std::move(s.key);
      slots_[i].value = std::move(s.value);
      slots_[i].used = true;
    }
  }

  std::vector<Slot> slots_;  // a power of two of them, or none
  std::size_t size_ = 0;
  unsigned shift_ = 64;
};

}  // namespace core
