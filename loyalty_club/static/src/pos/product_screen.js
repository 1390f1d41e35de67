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
    /**
     * Cards kept with a number from another system do not match the club's barcode rule, so the
     * scanner reads them as products: a scanned number that is no product is then looked up as
     * a card (one server call; a miss shows Odoo's usual "barcode not found").
     */
    async _barcodeProductAction(code) {
        if (this.pos.loyaltyClub?.has_legacy_numbers && /^\d{4,19}$/.test(code.code)) {
            const product = await this._getProductByBarcode(code);
            if (!product) {
                if (!(await this.pos.loyaltyClubIdentify(code.code, {quiet: true}))) {
                    this.barcodeReader.showNotFoundNotification(code);
                }
                return;
            }
        }
        return super._barcodeProductAction(...arguments);
    },
});

patch(ControlButtons.prototype, {
    async clickLoyaltyClubCard() {
        await this.pos.loyaltyClubAskCard();
    },
});
