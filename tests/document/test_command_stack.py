"""The Qt-free command stack: push (already done), undo, redo, merge, the clean state and its events."""

from bpstudio.document import Command, CommandStack


class Add(Command):
    """Adds ``amount`` to ``box[0]``; consecutive Adds merge when ``mergeable``."""

    def __init__(self, box, amount, mergeable=False):
        super().__init__(f"add {amount}")
        self.box, self.amount, self.mergeable = box, amount, mergeable
        box[0] += amount  # (carried out before it is pushed, as the document does)

    def undo(self):
        self.box[0] -= self.amount

    def redo(self):
        self.box[0] += self.amount

    def merge_with(self, other):
        if not (self.mergeable and isinstance(other, Add) and other.mergeable):
            return False
        self.amount += other.amount
        self.text = f"add {self.amount}"
        return True


def recorded(stack):
    seen = []
    stack.index_changed.connect(lambda i: seen.append(("index", i)))
    stack.clean_changed.connect(lambda c: seen.append(("clean", c)))
    return seen


def test_undo_redo_walk_the_stack_and_a_push_drops_what_could_be_redone():
    box, stack = [0], CommandStack()
    for amount in (1, 10, 100):
        stack.push(Add(box, amount))
    assert (box[0], stack.index(), stack.count()) == (111, 3, 3)
    stack.undo()
    stack.undo()
    assert (box[0], stack.index(), stack.undo_text(), stack.redo_text()) == (1, 1, "add 1", "add 10")
    stack.redo()
    assert box[0] == 11
    stack.push(Add(box, 1000))
    assert [stack.text(i) for i in range(stack.count())] == ["add 1", "add 10", "add 1000"]
    assert not stack.can_redo() and box[0] == 1011
    stack.set_index(0)
    assert box[0] == 0 and not stack.can_undo()
    stack.set_index(99)
    assert box[0] == 1011 and stack.index() == 3


def test_consecutive_mergeable_commands_become_one_entry_but_never_across_the_saved_state():
    box, stack = [0], CommandStack()
    stack.push(Add(box, 1, mergeable=True))
    stack.push(Add(box, 2, mergeable=True))
    assert (stack.count(), stack.text(0), box[0]) == (1, "add 3", 3)
    stack.set_clean()
    stack.push(Add(box, 4, mergeable=True))  # the saved state must stay reachable: no merge into it
    assert stack.count() == 2
    stack.undo()
    assert box[0] == 3 and stack.is_clean()
    stack.undo()
    assert box[0] == 0


def test_events_say_the_index_and_when_the_clean_state_is_left_and_reached():
    box, stack = [0], CommandStack()
    seen = recorded(stack)
    stack.push(Add(box, 1))
    stack.undo()
    stack.redo()
    stack.set_clean()
    assert seen == [
        ("index", 1),
        ("clean", False),
        ("index", 0),
        ("clean", True),
        ("index", 1),
        ("clean", False),
        ("clean", True),
    ]


def test_the_saved_state_is_unreachable_once_its_branch_is_dropped():
    box, stack = [0], CommandStack()
    stack.push(Add(box, 1))
    stack.push(Add(box, 2))
    stack.set_clean()
    stack.undo()
    stack.push(Add(box, 5))  # the saved state (after "add 2") is gone
    assert not stack.is_clean()
    stack.undo()
    assert not stack.is_clean()
    stack.clear()
    assert stack.is_clean() and stack.count() == 0 and box[0] == 1
