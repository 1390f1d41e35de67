from odoo import api, models, tools
from odoo.exceptions import AccessError


class LoyaltyClubProtectedMixin(models.AbstractModel):
    """Fields that only the server decides (a PIN check, a computation, a state machine).

    A model lists them in ``_loyalty_protected_fields``: ``create`` and ``write`` refuse them
    unless the environment is in superuser mode (``sudo()``), so only server code that made its
    own checks can set them; a JSON-RPC caller of any role cannot, whatever context it sends.
    ``_loyalty_create_only_fields`` may be given at creation and never changed afterwards (the
    card of a wizard whose PIN was checked, the invoice it pays). Every field that is read-only
    in its definition (plain, computed or related, without an inverse) is protected too, on the
    club's models and for the ``loyalty_`` fields of the others: a view's ``readonly`` protects
    nothing, so the field definition decides.
    """

    _name = "loyalty.club.protected.mixin"
    _description = "Club: fields decided by the server"

    _loyalty_protected_fields = frozenset()
    _loyalty_create_only_fields = frozenset()
    # True: a client's values of protected fields are dropped instead of refused (models whose
    # client echoes the server's figures back, like the till's orders)
    _loyalty_protected_drop = False

    @api.model
    def _loyalty_check_protected(self, names, creating):
        """Raise AccessError when a caller outside superuser mode sets a protected field."""
        if self.env.su:
            return
        create_only = set(self._loyalty_create_only_fields)
        refused = set(names) & (self._loyalty_protected_names() - create_only)
        if not creating:
            refused |= set(names) & create_only
        if refused:
            labels = sorted(
                self._fields[name]._description_string(self.env) if name in self._fields else name for name in refused
            )
            raise AccessError(
                self.env._(
                    "%(fields)s (%(model)s): set by the club itself, they cannot be written.",
                    fields=", ".join(labels),
                    model=self._description,
                )
            )

    @api.model
    @tools.ormcache()
    def _loyalty_protected_names(self):
        """Names of the fields no client may set: the explicit list and the read-only fields without
        an inverse (of the club's models, and the ``loyalty_`` fields of other models)."""
        own = self._name.startswith("loyalty.club")
        return frozenset(self._loyalty_protected_fields) | {
            name
            for name, field in self._fields.items()
            if field.readonly and not field.inverse and (own or name.startswith("loyalty_"))
        }

    @api.model
    def _loyalty_drop_protected(self, vals, creating):
        """``vals`` without the protected fields (the models that drop them instead of refusing)."""
        if self.env.su or not self._loyalty_protected_drop:
            return vals
        create_only = set(self._loyalty_create_only_fields)
        refused = self._loyalty_protected_names() - create_only
        if not creating:
            refused |= create_only
        return {name: value for name, value in vals.items() if name not in refused}

    @api.model_create_multi
    def create(self, vals_list):
        vals_list = [self._loyalty_drop_protected(vals, creating=True) for vals in vals_list]
        for vals in vals_list:
            self._loyalty_check_protected(vals, creating=True)
        return super().create(vals_list)

    def write(self, vals):
        vals = self._loyalty_drop_protected(vals, creating=False)
        self._loyalty_check_protected(vals, creating=False)
        return super().write(vals)
