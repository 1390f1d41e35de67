import {patch} from "@web/core/utils/patch";
import {useBarcodeReader} from "@point_of_sale/app/barcode/barcode_reader_hook";
import {ProductScreen} from "@point_of_sale/app/screens/product_screen/product_screen";
import {ControlButtons} from "@point_of_sale/app/screens/product_screen/control_buttons/control_buttons";

patch(ProductScreen.prototype, {
    setup() {
        super.setup(...arguments);
        useBarcodeReader({loyalty_club_card: this._onLoyaltyClubCardScan});
    },
    async _onLoyaltyClubCardScan(code) {
        await this.pos.loyaltyClubIdentify(code.code);
    },
});

patch(ControlButtons.prototype, {
    async clickLoyaltyClubCard() {
        await this.pos.loyaltyClubAskCard();
    },
});
