import publicWidget from "@web/legacy/js/public/public_widget";
import "@website_sale/js/website_sale";

/**
 * The product page says what the chosen variant earns the signed-in member: the server puts the
 * text in the combination info (loyalty_club.text), this keeps it in step when the variant changes.
 */
publicWidget.registry.WebsiteSale.include({
    _onChangeCombination(ev, $parent, combination) {
        const result = this._super(...arguments);
        const target = $parent[0] && $parent[0].querySelector(".o_loyalty_club_earn_text");
        const offer = combination.loyalty_club;
        if (target && offer && offer.member) {
            target.textContent = offer.text || "";
            target.closest(".o_loyalty_club_product").classList.toggle("d-none", !offer.text);
        }
        return result;
    },
});

/**
 * The cart's "Join the customer club" box saves the choice as soon as it is ticked or unticked
 * (its form still works without JavaScript, with its own button).
 */
publicWidget.registry.LoyaltyClubJoinForm = publicWidget.Widget.extend({
    selector: ".o_loyalty_club_join_form",
    events: {"change input[name='join']": "_onChangeJoin"},

    start() {
        this.el.querySelector(".o_loyalty_club_join_save")?.classList.add("d-none");
        return this._super(...arguments);
    },

    _onChangeJoin() {
        this.el.submit();
    },
});
