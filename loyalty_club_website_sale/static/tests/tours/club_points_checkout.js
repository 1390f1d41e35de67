import {registry} from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";

const GIFT_CODE = "K7QM-3XPA-9TRW-B2H1";
const GIFT_PIN = "864213";

function openClubLamp() {
    return {
        content: "open the product",
        trigger: '.oe_product_cart a:contains("Club Lamp")',
        run: "click",
    };
}

function addToCart() {
    return {
        content: "add to cart",
        trigger: '#product_detail form[action^="/shop/cart/update"] #add_to_cart',
        run: "click",
    };
}

function useReward() {
    return [
        {
            content: "pick the 150-point reward",
            trigger: "select#loyalty_club_reward",
            run: "selectByLabel 7% off your order (150)",
        },
        {
            content: "use the points",
            trigger: ".o_loyalty_club_use_points button.o_loyalty_club_apply",
            run: "click",
        },
        {
            content: "the reward is in the cart",
            trigger: '.o_loyalty_club_applied:contains("7% off your order")',
        },
    ];
}

function useGiftCard(leftToPay) {
    return [
        {
            content: "type the gift card's code",
            trigger: "input#loyalty_club_gift_card_code",
            run: `edit ${GIFT_CODE}`,
        },
        {
            content: "type its PIN",
            trigger: "input#loyalty_club_gift_card_pin",
            run: `edit ${GIFT_PIN}`,
        },
        {
            content: "use the gift card",
            trigger: ".o_loyalty_club_gift_card_form button.o_loyalty_club_gift_card_apply",
            run: "click",
        },
        {
            content: "the card pays part of the order",
            trigger: ".o_loyalty_club_gift_card:contains(B2H1)",
        },
        {
            content: "what is left to pay",
            trigger: `#order_left_to_pay .o_loyalty_club_left_to_pay:contains(${leftToPay})`,
        },
    ];
}

registry.category("web_tour.tours").add("loyalty_club_website_points_checkout", {
    url: "/shop?search=Club Lamp",
    steps: () => [
        openClubLamp(),
        {
            content: "the product page says what the member earns",
            trigger: '.o_loyalty_club_earn_text:contains("Earn 20 club points")',
        },
        addToCart(),
        tourUtils.goToCart(),
        {
            content: "the cart shows the member's balance",
            trigger: '.o_loyalty_club_cart .o_loyalty_club_balance:contains("400")',
        },
        ...useReward(),
        {
            content: "the order earns on what is paid in money",
            trigger: '#order_club_points .o_loyalty_club_order_earn:contains("18")',
        },
        tourUtils.goToCheckout(),
        ...tourUtils.payWithDemo(),
    ],
});

registry.category("web_tour.tours").add("loyalty_club_website_join_at_checkout", {
    url: "/shop?search=Club Lamp",
    steps: () => [
        openClubLamp(),
        {
            content: "a visitor is invited to join",
            trigger: '.o_loyalty_club_join_hint a[href="/my/club"]',
        },
        addToCart(),
        tourUtils.goToCart(),
        {
            content: "join the club with this order",
            trigger: ".o_loyalty_club_join_form input#loyalty_club_join",
            run: "click",
        },
        {
            content: "the choice is saved",
            trigger: ".o_loyalty_club_join_form input#loyalty_club_join:checked",
        },
        tourUtils.goToCheckout(),
        ...tourUtils.fillAdressForm({
            name: "Vida Visitor",
            phone: "+32 470 12 34 56",
            email: "vida@example.com",
            street: "1 Rue du Club",
            city: "Brussels",
            zip: "1000",
        }),
        ...tourUtils.payWithDemo(),
    ],
});

registry.category("web_tour.tours").add("loyalty_club_website_gift_card_and_provider", {
    url: "/shop?search=Club Lamp",
    steps: () => [
        openClubLamp(),
        addToCart(),
        tourUtils.goToCart(),
        tourUtils.goToCheckout(),
        ...useGiftCard("100.00"),
        ...tourUtils.payWithDemo(),
        {
            content: "the order is confirmed without a warning about the amount paid",
            trigger:
                '.oe_website_sale_tx_status:contains("successfully processed"):not(:contains("Unfortunately"))',
        },
    ],
});

registry.category("web_tour.tours").add("loyalty_club_website_failed_payment", {
    url: "/shop?search=Club Lamp",
    steps: () => [
        openClubLamp(),
        addToCart(),
        tourUtils.goToCart(),
        ...useReward(),
        tourUtils.goToCheckout(),
        ...useGiftCard("86.00"),
        {
            content: "select the demo provider",
            trigger: 'input[name="o_payment_radio"][data-payment-method-code="demo"]',
            run: "click",
        },
        {
            content: "a card number",
            trigger: 'input[name="customer_input"]',
            run: "edit 4242424242424242",
        },
        {
            content: "the provider will refuse the payment",
            trigger: "select#simulated_payment_state",
            run: "selectByLabel Error",
        },
        tourUtils.pay(),
        {
            content: "the payment failed",
            trigger: '.oe_website_sale_tx_status:contains("payment status: error")',
        },
    ],
});
