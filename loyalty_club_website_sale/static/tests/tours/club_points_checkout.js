import { registry } from "@web/core/registry";
import * as tourUtils from "@website_sale/js/tours/tour_utils";

registry.category("web_tour.tours").add("loyalty_club_website_points_checkout", {
    url: "/shop?search=Club Lamp",
    steps: () => [
        {
            content: "open the product",
            trigger: '.oe_product_cart a:contains("Club Lamp")',
            run: "click",
        },
        {
            content: "the product page says what the member earns",
            trigger: '.o_loyalty_club_earn_text:contains("Earn 20 club points")',
        },
        {
            content: "add to cart",
            trigger: '#product_detail form[action^="/shop/cart/update"] #add_to_cart',
            run: "click",
        },
        tourUtils.goToCart(),
        {
            content: "the cart shows the member's balance",
            trigger: '.o_loyalty_club_cart .o_loyalty_club_balance:contains("400")',
        },
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
        {
            content: "open the product",
            trigger: '.oe_product_cart a:contains("Club Lamp")',
            run: "click",
        },
        {
            content: "a visitor is invited to join",
            trigger: '.o_loyalty_club_join_hint a[href="/my/club"]',
        },
        {
            content: "add to cart",
            trigger: '#product_detail form[action^="/shop/cart/update"] #add_to_cart',
            run: "click",
        },
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
